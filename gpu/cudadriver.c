//go:build cuda || tensorrt

// The CUDA driver API, opened at run time; see cudadriver.h.
#include "cudadriver.h"

#include <dlfcn.h>
#include <stdio.h>

// One table of entry points, filled once by b4cu_load from libcuda.so.1.
// The names are those cuda.h's macros select (the _v2 ABI where one
// exists). This mirrors the loaded library, which exists once per process.
#define B4CU_FUNCS(X) \
	X(cuInit, b4cu_result, (unsigned)) \
	X(cuDriverGetVersion, b4cu_result, (int *)) \
	X(cuDeviceGetCount, b4cu_result, (int *)) \
	X(cuDeviceGet, b4cu_result, (int *, int)) \
	X(cuDeviceGetName, b4cu_result, (char *, int, int)) \
	X(cuDeviceGetUuid, b4cu_result, (unsigned char *, int)) \
	X(cuDeviceGetAttribute, b4cu_result, (int *, int, int)) \
	X(cuDevicePrimaryCtxRetain, b4cu_result, (b4cu_handle *, int)) \
	X(cuDevicePrimaryCtxRelease_v2, b4cu_result, (int)) \
	X(cuCtxSetCurrent, b4cu_result, (b4cu_handle)) \
	X(cuMemGetInfo_v2, b4cu_result, (size_t *, size_t *)) \
	X(cuMemAlloc_v2, b4cu_result, (b4cu_ptr *, size_t)) \
	X(cuMemFree_v2, b4cu_result, (b4cu_ptr)) \
	X(cuMemcpyHtoDAsync_v2, b4cu_result, (b4cu_ptr, const void *, size_t, b4cu_handle)) \
	X(cuMemcpyDtoHAsync_v2, b4cu_result, (void *, b4cu_ptr, size_t, b4cu_handle)) \
	X(cuMemcpyDtoDAsync_v2, b4cu_result, (b4cu_ptr, b4cu_ptr, size_t, b4cu_handle)) \
	X(cuMemsetD32Async, b4cu_result, (b4cu_ptr, unsigned, size_t, b4cu_handle)) \
	X(cuMemsetD8Async, b4cu_result, (b4cu_ptr, unsigned char, size_t, b4cu_handle)) \
	X(cuStreamCreate, b4cu_result, (b4cu_handle *, unsigned)) \
	X(cuStreamDestroy_v2, b4cu_result, (b4cu_handle)) \
	X(cuStreamSynchronize, b4cu_result, (b4cu_handle)) \
	X(cuStreamWaitEvent, b4cu_result, (b4cu_handle, b4cu_handle, unsigned)) \
	X(cuEventCreate, b4cu_result, (b4cu_handle *, unsigned)) \
	X(cuEventRecord, b4cu_result, (b4cu_handle, b4cu_handle)) \
	X(cuEventQuery, b4cu_result, (b4cu_handle)) \
	X(cuEventSynchronize, b4cu_result, (b4cu_handle)) \
	X(cuEventElapsedTime, b4cu_result, (float *, b4cu_handle, b4cu_handle)) \
	X(cuEventDestroy_v2, b4cu_result, (b4cu_handle)) \
	X(cuModuleLoadData, b4cu_result, (b4cu_handle *, const void *)) \
	X(cuModuleUnload, b4cu_result, (b4cu_handle)) \
	X(cuModuleGetFunction, b4cu_result, (b4cu_handle *, b4cu_handle, const char *)) \
	X(cuLaunchKernel, b4cu_result, (b4cu_handle, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, b4cu_handle, void **, void **)) \
	X(cuGetErrorString, b4cu_result, (b4cu_result, const char **))

#define B4CU_DECLARE(name, ret, args) static ret(*b4cu_##name) args;
B4CU_FUNCS(B4CU_DECLARE)

// b4cu_load opens the driver library (path NULL: libcuda.so.1 through the
// loader's search) and resolves every entry point. It returns NULL or a
// message saying what is missing.
const char *b4cu_load(const char *path) {
	static char msg[512];
	void *lib = dlopen(path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *e = dlerror();
		snprintf(msg, sizeof msg, "%s", e ? e : "dlopen failed");
		return msg;
	}
#define B4CU_RESOLVE(name, ret, args) \
	b4cu_##name = (ret(*) args)dlsym(lib, #name); \
	if (!b4cu_##name) { \
		snprintf(msg, sizeof msg, "the driver library has no %s (driver too old?)", #name); \
		return msg; \
	}
	B4CU_FUNCS(B4CU_RESOLVE)
	return NULL;
}

// Thin wrappers, because cgo cannot call through C function pointers.
b4cu_result b4cu_init(void) { return b4cu_cuInit(0); }
b4cu_result b4cu_driver_version(int *v) { return b4cu_cuDriverGetVersion(v); }
b4cu_result b4cu_device_count(int *n) { return b4cu_cuDeviceGetCount(n); }
b4cu_result b4cu_device_get(int *d, int ordinal) { return b4cu_cuDeviceGet(d, ordinal); }
b4cu_result b4cu_device_name(char *name, int len, int d) { return b4cu_cuDeviceGetName(name, len, d); }
b4cu_result b4cu_device_uuid(unsigned char *uuid, int d) { return b4cu_cuDeviceGetUuid(uuid, d); }
b4cu_result b4cu_device_attr(int *v, int attr, int d) { return b4cu_cuDeviceGetAttribute(v, attr, d); }
b4cu_result b4cu_primary_retain(uintptr_t *ctx, int d) {
	b4cu_handle h = NULL;
	b4cu_result r = b4cu_cuDevicePrimaryCtxRetain(&h, d);
	*ctx = (uintptr_t)h;
	return r;
}
b4cu_result b4cu_primary_release(int d) { return b4cu_cuDevicePrimaryCtxRelease_v2(d); }
b4cu_result b4cu_ctx_set(uintptr_t ctx) { return b4cu_cuCtxSetCurrent((b4cu_handle)ctx); }
b4cu_result b4cu_mem_info(size_t *free, size_t *total) { return b4cu_cuMemGetInfo_v2(free, total); }
b4cu_result b4cu_alloc(uint64_t *p, size_t n) {
	b4cu_ptr d = 0;
	b4cu_result r = b4cu_cuMemAlloc_v2(&d, n);
	*p = d;
	return r;
}
b4cu_result b4cu_free(uint64_t p) { return b4cu_cuMemFree_v2(p); }
// Copies between pageable host memory and the device: the driver returns
// from an H2D copy once it has staged the source and from a D2H copy once
// the destination is written, so no Go memory is used after the call.
b4cu_result b4cu_h2d(uint64_t dst, const void *src, size_t n, uintptr_t s) {
	return b4cu_cuMemcpyHtoDAsync_v2(dst, src, n, (b4cu_handle)s);
}
b4cu_result b4cu_d2h(void *dst, uint64_t src, size_t n, uintptr_t s) {
	return b4cu_cuMemcpyDtoHAsync_v2(dst, src, n, (b4cu_handle)s);
}
b4cu_result b4cu_d2d(uint64_t dst, uint64_t src, size_t n, uintptr_t s) {
	return b4cu_cuMemcpyDtoDAsync_v2(dst, src, n, (b4cu_handle)s);
}
b4cu_result b4cu_memset32(uint64_t p, unsigned v, size_t n, uintptr_t s) {
	return b4cu_cuMemsetD32Async(p, v, n, (b4cu_handle)s);
}
b4cu_result b4cu_memset8(uint64_t p, unsigned char v, size_t n, uintptr_t s) {
	return b4cu_cuMemsetD8Async(p, v, n, (b4cu_handle)s);
}
b4cu_result b4cu_stream_create(uintptr_t *s) {
	b4cu_handle h = NULL;
	b4cu_result r = b4cu_cuStreamCreate(&h, 1); // CU_STREAM_NON_BLOCKING
	*s = (uintptr_t)h;
	return r;
}
b4cu_result b4cu_stream_destroy(uintptr_t s) { return b4cu_cuStreamDestroy_v2((b4cu_handle)s); }
b4cu_result b4cu_stream_sync(uintptr_t s) { return b4cu_cuStreamSynchronize((b4cu_handle)s); }
b4cu_result b4cu_stream_wait(uintptr_t s, uintptr_t e) { return b4cu_cuStreamWaitEvent((b4cu_handle)s, (b4cu_handle)e, 0); }
b4cu_result b4cu_event_create(uintptr_t *e, unsigned flags) {
	b4cu_handle h = NULL;
	b4cu_result r = b4cu_cuEventCreate(&h, flags);
	*e = (uintptr_t)h;
	return r;
}
b4cu_result b4cu_event_record(uintptr_t e, uintptr_t s) { return b4cu_cuEventRecord((b4cu_handle)e, (b4cu_handle)s); }
b4cu_result b4cu_event_query(uintptr_t e) { return b4cu_cuEventQuery((b4cu_handle)e); }
b4cu_result b4cu_event_sync(uintptr_t e) { return b4cu_cuEventSynchronize((b4cu_handle)e); }
b4cu_result b4cu_event_elapsed(float *ms, uintptr_t a, uintptr_t b) {
	return b4cu_cuEventElapsedTime(ms, (b4cu_handle)a, (b4cu_handle)b);
}
b4cu_result b4cu_event_destroy(uintptr_t e) { return b4cu_cuEventDestroy_v2((b4cu_handle)e); }
b4cu_result b4cu_module_load(uintptr_t *m, const char *image) {
	b4cu_handle h = NULL;
	b4cu_result r = b4cu_cuModuleLoadData(&h, image);
	*m = (uintptr_t)h;
	return r;
}
b4cu_result b4cu_module_unload(uintptr_t m) { return b4cu_cuModuleUnload((b4cu_handle)m); }
b4cu_result b4cu_module_function(uintptr_t *f, uintptr_t m, const char *name) {
	b4cu_handle h = NULL;
	b4cu_result r = b4cu_cuModuleGetFunction(&h, (b4cu_handle)m, name);
	*f = (uintptr_t)h;
	return r;
}
// b4cu_launch launches f with n arguments of 8 bytes each, packed in
// args (C memory): the driver reads each parameter's size from the
// kernel's signature, at most 8 bytes, little-endian.
b4cu_result b4cu_launch(uintptr_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared, uintptr_t s, uint64_t *args, int n) {
	void *params[32];
	if (n > 32) {
		return 1; // CUDA_ERROR_INVALID_VALUE
	}
	for (int i = 0; i < n; i++) {
		params[i] = &args[i];
	}
	return b4cu_cuLaunchKernel((b4cu_handle)f, gx, gy, gz, bx, by, bz, shared, (b4cu_handle)s, params, NULL);
}
const char *b4cu_error_string(b4cu_result r) {
	const char *s = NULL;
	if (b4cu_cuGetErrorString == NULL || b4cu_cuGetErrorString(r, &s) != 0 || s == NULL) {
		return "unknown CUDA error";
	}
	return s;
}

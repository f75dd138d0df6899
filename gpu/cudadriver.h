// The CUDA driver API as body4d uses it, opened at run time from
// libcuda.so.1 (cudadriver.c), so that nothing links a CUDA library.
#ifndef BODY4D_CUDADRIVER_H
#define BODY4D_CUDADRIVER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The few CUDA driver API types body4d uses, declared here so that no
// CUDA header is needed to build: handles are opaque pointers, results
// and devices ints, device addresses 64-bit (CUdeviceptr on 64-bit hosts).
typedef int b4cu_result;
typedef void *b4cu_handle;
typedef unsigned long long b4cu_ptr;

const char *b4cu_load(const char *path);
b4cu_result b4cu_init(void);
b4cu_result b4cu_driver_version(int *v);
b4cu_result b4cu_device_count(int *n);
b4cu_result b4cu_device_get(int *d, int ordinal);
b4cu_result b4cu_device_name(char *name, int len, int d);
b4cu_result b4cu_device_uuid(unsigned char *uuid, int d);
b4cu_result b4cu_device_attr(int *v, int attr, int d);
b4cu_result b4cu_primary_retain(uintptr_t *ctx, int d);
b4cu_result b4cu_primary_release(int d);
b4cu_result b4cu_ctx_set(uintptr_t ctx);
b4cu_result b4cu_mem_info(size_t *free, size_t *total);
b4cu_result b4cu_alloc(uint64_t *p, size_t n);
b4cu_result b4cu_free(uint64_t p);
b4cu_result b4cu_h2d(uint64_t dst, const void *src, size_t n, uintptr_t s);
b4cu_result b4cu_d2h(void *dst, uint64_t src, size_t n, uintptr_t s);
b4cu_result b4cu_d2d(uint64_t dst, uint64_t src, size_t n, uintptr_t s);
b4cu_result b4cu_memset32(uint64_t p, unsigned v, size_t n, uintptr_t s);
b4cu_result b4cu_memset8(uint64_t p, unsigned char v, size_t n, uintptr_t s);
b4cu_result b4cu_stream_create(uintptr_t *s);
b4cu_result b4cu_stream_destroy(uintptr_t s);
b4cu_result b4cu_stream_sync(uintptr_t s);
b4cu_result b4cu_stream_wait(uintptr_t s, uintptr_t e);
b4cu_result b4cu_event_create(uintptr_t *e, unsigned flags);
b4cu_result b4cu_event_record(uintptr_t e, uintptr_t s);
b4cu_result b4cu_event_query(uintptr_t e);
b4cu_result b4cu_event_sync(uintptr_t e);
b4cu_result b4cu_event_elapsed(float *ms, uintptr_t a, uintptr_t b);
b4cu_result b4cu_event_destroy(uintptr_t e);
b4cu_result b4cu_module_load(uintptr_t *m, const char *image);
b4cu_result b4cu_module_unload(uintptr_t m);
b4cu_result b4cu_module_function(uintptr_t *f, uintptr_t m, const char *name);
b4cu_result b4cu_launch(uintptr_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared, uintptr_t s, uint64_t *args, int n);
const char *b4cu_error_string(b4cu_result r);

#endif

/* A small C API over the TensorRT C++ API, so that Go can use it through
 * cgo. TensorRT is opened at run time (dlopen): nothing links libnvinfer,
 * and the C++ API is reached through the libraries' exported factories
 * (createInferRuntime_INTERNAL, createInferBuilder_INTERNAL,
 * createNvOnnxParser_INTERNAL) and virtual calls only.
 *
 * Functions that can fail return 0 on success and -1 on failure, and then
 * write a message into err (at most errlen bytes, NUL-terminated) that
 * includes every error TensorRT's logger reported during the call. */
#ifndef BODY4D_TRT_SHIM_H
#define BODY4D_TRT_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define B4TRT_MAX_DIMS 8

/* Element types, numbered as nvinfer1::DataType. */
enum {
	B4TRT_FLOAT = 0,
	B4TRT_HALF = 1,
	B4TRT_INT8 = 2,
	B4TRT_INT32 = 3,
	B4TRT_BOOL = 4,
	B4TRT_UINT8 = 5,
	B4TRT_FP8 = 6,
	B4TRT_BF16 = 7,
	B4TRT_INT64 = 8
};

/* Profile shape selectors, numbered as nvinfer1::OptProfileSelector. */
enum { B4TRT_PROFILE_MIN = 0, B4TRT_PROFILE_OPT = 1, B4TRT_PROFILE_MAX = 2 };

/* Builder precision flags. */
enum { B4TRT_BUILD_FP16 = 1, B4TRT_BUILD_BF16 = 2 };

typedef struct b4trt_engine b4trt_engine;
typedef struct b4trt_builder b4trt_builder;

typedef struct {
	const char *name;
	int is_input; /* 1 input, 0 output */
	int dtype;    /* B4TRT_* */
	int nb_dims;
	int64_t dims[B4TRT_MAX_DIMS]; /* -1 marks a dynamic dimension */
} b4trt_io;

/* b4trt_header_version is the TensorRT version the shim was compiled
 * against, e.g. 101600 for 10.16.0. */
int32_t b4trt_header_version(void);

/* b4trt_open loads libnvinfer (path NULL: libnvinfer.so.<major of the
 * headers> through the loader's search). It returns the library's
 * version (getInferLibVersion) or -1. */
int32_t b4trt_open(const char *path, char *err, size_t errlen);
/* b4trt_open_parser loads libnvonnxparser the same way, for the builder. */
int b4trt_open_parser(const char *path, char *err, size_t errlen);

/* b4trt_load deserializes a plan and creates one execution context for it.
 * It returns NULL on failure. */
b4trt_engine *b4trt_load(const void *plan, size_t size, char *err, size_t errlen);
void b4trt_destroy(b4trt_engine *e);

int b4trt_num_io(const b4trt_engine *e);
int b4trt_io_info(const b4trt_engine *e, int index, b4trt_io *out, char *err, size_t errlen);
int b4trt_num_profiles(const b4trt_engine *e);
/* b4trt_profile_shape reports an input's min, opt or max shape in a profile. */
int b4trt_profile_shape(const b4trt_engine *e, const char *name, int profile, int which,
                        int *nb_dims, int64_t *dims, char *err, size_t errlen);

int b4trt_set_input_shape(b4trt_engine *e, const char *name, int nb_dims, const int64_t *dims,
                          char *err, size_t errlen);
/* b4trt_context_shape reports a tensor's shape as resolved by the execution
 * context after every input shape is set; -1 remains where an output's size
 * depends on data. */
int b4trt_context_shape(const b4trt_engine *e, const char *name, int *nb_dims, int64_t *dims,
                        char *err, size_t errlen);
/* Device addresses and streams (CUstream, which is a cudaStream_t) travel
 * as integers so that Go never holds them as Go pointers. */
int b4trt_set_tensor_address(b4trt_engine *e, const char *name, uintptr_t device_ptr,
                             char *err, size_t errlen);
int b4trt_enqueue(b4trt_engine *e, uintptr_t stream, char *err, size_t errlen);

/* b4trt_builder_new parses an ONNX file (external weights next to it are
 * found by its path) into a network. */
b4trt_builder *b4trt_builder_new(const char *onnx_path, char *err, size_t errlen);
void b4trt_builder_destroy(b4trt_builder *b);
int b4trt_builder_num_inputs(const b4trt_builder *b);
/* b4trt_builder_input describes network input index (is_input is 1). */
int b4trt_builder_input(const b4trt_builder *b, int index, b4trt_io *out, char *err, size_t errlen);
/* b4trt_builder_profile sets an input's min, opt and max shape in the one
 * optimisation profile the plan gets. */
int b4trt_builder_profile(b4trt_builder *b, const char *name, int nb_dims, const int64_t *min,
                          const int64_t *opt, const int64_t *max, char *err, size_t errlen);
/* b4trt_builder_build builds the plan. cache/cache_len is a timing cache
 * to start from (may be empty). On success *plan and *new_cache are
 * malloc'd copies the caller frees. */
int b4trt_builder_build(b4trt_builder *b, int flags, uint64_t workspace, const void *cache, size_t cache_len,
                        void **plan, size_t *plan_len, void **new_cache, size_t *new_cache_len, char *err,
                        size_t errlen);

#ifdef __cplusplus
}
#endif

#endif

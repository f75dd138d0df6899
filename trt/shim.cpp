//go:build tensorrt

// Implementation of shim.h against the TensorRT 10 and 11 runtime API
// (name-based I/O: getNbIOTensors, setInputShape, setTensorAddress,
// enqueueV3).
#include "shim.h"

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

// The C enums mirror TensorRT's numbering so values pass through unchanged.
static_assert(B4TRT_FLOAT == static_cast<int>(nvinfer1::DataType::kFLOAT), "DataType numbering");
static_assert(B4TRT_HALF == static_cast<int>(nvinfer1::DataType::kHALF), "DataType numbering");
static_assert(B4TRT_INT8 == static_cast<int>(nvinfer1::DataType::kINT8), "DataType numbering");
static_assert(B4TRT_INT32 == static_cast<int>(nvinfer1::DataType::kINT32), "DataType numbering");
static_assert(B4TRT_BOOL == static_cast<int>(nvinfer1::DataType::kBOOL), "DataType numbering");
static_assert(B4TRT_UINT8 == static_cast<int>(nvinfer1::DataType::kUINT8), "DataType numbering");
static_assert(B4TRT_FP8 == static_cast<int>(nvinfer1::DataType::kFP8), "DataType numbering");
static_assert(B4TRT_BF16 == static_cast<int>(nvinfer1::DataType::kBF16), "DataType numbering");
static_assert(B4TRT_INT64 == static_cast<int>(nvinfer1::DataType::kINT64), "DataType numbering");
static_assert(B4TRT_PROFILE_MIN == static_cast<int>(nvinfer1::OptProfileSelector::kMIN), "selector numbering");
static_assert(B4TRT_PROFILE_OPT == static_cast<int>(nvinfer1::OptProfileSelector::kOPT), "selector numbering");
static_assert(B4TRT_PROFILE_MAX == static_cast<int>(nvinfer1::OptProfileSelector::kMAX), "selector numbering");
static_assert(B4TRT_MAX_DIMS == nvinfer1::Dims::MAX_DIMS, "MAX_DIMS");

namespace {

// Logger keeps the errors TensorRT reports so a failing call can return
// them; TensorRT's own return values carry no message.
class Logger : public nvinfer1::ILogger {
public:
	void log(Severity severity, nvinfer1::AsciiChar const *msg) noexcept override {
		if (severity > Severity::kERROR) {
			return;
		}
		try { // log is noexcept: a failure to record must not terminate
			std::lock_guard<std::mutex> lock(mu_);
			if (errors_.size() > maxLen) {
				return; // the first errors explain a failure; later ones repeat
			}
			if (!errors_.empty()) {
				errors_ += "; ";
			}
			errors_ += msg;
		} catch (...) {
		}
	}

	// take returns the recorded errors and forgets them.
	std::string take() noexcept {
		std::string s;
		try {
			std::lock_guard<std::mutex> lock(mu_);
			s.swap(errors_);
		} catch (...) {
		}
		return s;
	}

private:
	static constexpr size_t maxLen = 4096;
	std::mutex mu_;
	std::string errors_;
};

// fail writes what went wrong, and the logger's errors, into err. No
// exception may cross into C, so on failure to build the message it writes
// what alone.
void fail(Logger *log, const char *what, char *err, size_t errlen) noexcept {
	if (err == nullptr || errlen == 0) {
		return;
	}
	std::snprintf(err, errlen, "%s", what);
	if (log == nullptr) {
		return;
	}
	try {
		std::string logged = log->take();
		if (!logged.empty()) {
			std::snprintf(err, errlen, "%s: %s", what, logged.c_str());
		}
	} catch (...) {
	}
}

bool toDims(int nb, const int64_t *d, nvinfer1::Dims *out) {
	if (nb < 0 || nb > nvinfer1::Dims::MAX_DIMS) {
		return false;
	}
	out->nbDims = nb;
	for (int i = 0; i < nb; i++) {
		out->d[i] = d[i];
	}
	return true;
}

void fromDims(const nvinfer1::Dims &in, int *nb, int64_t *d) {
	*nb = in.nbDims < 0 ? -1 : in.nbDims;
	for (int i = 0; i < in.nbDims && i < B4TRT_MAX_DIMS; i++) {
		d[i] = in.d[i];
	}
}

} // namespace

// Members are destroyed in reverse order: context, engine, runtime, logger,
// as TensorRT requires.
struct b4trt_engine {
	mutable Logger log;
	std::unique_ptr<nvinfer1::IRuntime> runtime;
	std::unique_ptr<nvinfer1::ICudaEngine> engine;
	std::unique_ptr<nvinfer1::IExecutionContext> context;
};

extern "C" {

int32_t b4trt_version(void) { return getInferLibVersion(); }

b4trt_engine *b4trt_load(const void *plan, size_t size, char *err, size_t errlen) {
	if (plan == nullptr || size == 0) {
		fail(nullptr, "empty plan", err, errlen);
		return nullptr;
	}
	std::unique_ptr<b4trt_engine> e(new (std::nothrow) b4trt_engine);
	if (!e) {
		fail(nullptr, "out of host memory", err, errlen);
		return nullptr;
	}
	e->runtime.reset(nvinfer1::createInferRuntime(e->log));
	if (!e->runtime) {
		fail(&e->log, "createInferRuntime failed", err, errlen);
		return nullptr;
	}
	e->engine.reset(e->runtime->deserializeCudaEngine(plan, size));
	if (!e->engine) {
		fail(&e->log, "deserializeCudaEngine failed (plan built for another TensorRT version or GPU?)", err, errlen);
		return nullptr;
	}
	e->context.reset(e->engine->createExecutionContext());
	if (!e->context) {
		fail(&e->log, "createExecutionContext failed", err, errlen);
		return nullptr;
	}
	return e.release();
}

void b4trt_destroy(b4trt_engine *e) { delete e; }

int b4trt_num_io(const b4trt_engine *e) { return e->engine->getNbIOTensors(); }

int b4trt_io_info(const b4trt_engine *e, int index, b4trt_io *out, char *err, size_t errlen) {
	const nvinfer1::ICudaEngine &eng = *e->engine;
	if (index < 0 || index >= eng.getNbIOTensors()) {
		fail(nullptr, "I/O tensor index out of range", err, errlen);
		return -1;
	}
	const char *name = eng.getIOTensorName(index);
	if (name == nullptr) {
		fail(&e->log, "getIOTensorName failed", err, errlen);
		return -1;
	}
	out->name = name;
	switch (eng.getTensorIOMode(name)) {
	case nvinfer1::TensorIOMode::kINPUT:
		out->is_input = 1;
		break;
	case nvinfer1::TensorIOMode::kOUTPUT:
		out->is_input = 0;
		break;
	default:
		fail(nullptr, "tensor is neither input nor output", err, errlen);
		return -1;
	}
	out->dtype = static_cast<int>(eng.getTensorDataType(name));
	fromDims(eng.getTensorShape(name), &out->nb_dims, out->dims);
	return 0;
}

int b4trt_num_profiles(const b4trt_engine *e) { return e->engine->getNbOptimizationProfiles(); }

int b4trt_profile_shape(const b4trt_engine *e, const char *name, int profile, int which,
                        int *nb_dims, int64_t *dims, char *err, size_t errlen) {
	e->log.take(); // report only this call's errors
	if (which < B4TRT_PROFILE_MIN || which > B4TRT_PROFILE_MAX) {
		fail(nullptr, "bad profile selector", err, errlen);
		return -1;
	}
	nvinfer1::Dims d = e->engine->getProfileShape(name, profile, static_cast<nvinfer1::OptProfileSelector>(which));
	if (d.nbDims < 0) {
		fail(&e->log, "getProfileShape failed", err, errlen);
		return -1;
	}
	fromDims(d, nb_dims, dims);
	return 0;
}

int b4trt_set_input_shape(b4trt_engine *e, const char *name, int nb_dims, const int64_t *dims,
                          char *err, size_t errlen) {
	e->log.take(); // report only this call's errors
	nvinfer1::Dims d;
	if (!toDims(nb_dims, dims, &d)) {
		fail(nullptr, "too many dimensions", err, errlen);
		return -1;
	}
	if (!e->context->setInputShape(name, d)) {
		fail(&e->log, "setInputShape failed", err, errlen);
		return -1;
	}
	return 0;
}

int b4trt_context_shape(const b4trt_engine *e, const char *name, int *nb_dims, int64_t *dims,
                        char *err, size_t errlen) {
	e->log.take(); // report only this call's errors
	nvinfer1::Dims d = e->context->getTensorShape(name);
	if (d.nbDims < 0) {
		fail(&e->log, "getTensorShape failed (are all input shapes set?)", err, errlen);
		return -1;
	}
	fromDims(d, nb_dims, dims);
	return 0;
}

int b4trt_set_tensor_address(b4trt_engine *e, const char *name, uintptr_t device_ptr,
                             char *err, size_t errlen) {
	e->log.take(); // report only this call's errors
	if (!e->context->setTensorAddress(name, reinterpret_cast<void *>(device_ptr))) {
		fail(&e->log, "setTensorAddress failed", err, errlen);
		return -1;
	}
	return 0;
}

int b4trt_enqueue(b4trt_engine *e, uintptr_t stream, char *err, size_t errlen) {
	e->log.take(); // report only this call's errors
	if (!e->context->enqueueV3(reinterpret_cast<cudaStream_t>(stream))) {
		fail(&e->log, "enqueueV3 failed", err, errlen);
		return -1;
	}
	return 0;
}

} // extern "C"

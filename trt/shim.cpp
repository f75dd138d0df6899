//go:build tensorrt

// Implementation of shim.h against the TensorRT 10 and 11 API (name-based
// I/O: getNbIOTensors, setInputShape, setTensorAddress, enqueueV3; the
// builder and ONNX parser). The libraries are opened with dlopen and only
// their extern "C" factories are looked up; every other call is virtual
// or inline in the headers, so nothing links libnvinfer. cuda_runtime_api.h
// comes in through NvInferRuntimeBase.h for cudaStream_t only: no CUDA
// runtime function is called.
#include "shim.h"

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#define B4TRT_STR2(x) #x
#define B4TRT_STR(x) B4TRT_STR2(x)

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

// The libraries' factories, resolved once by b4trt_open and
// b4trt_open_parser; they mirror process-wide loader state.
namespace {
using factoryFn = void *(*)(void *logger, int32_t version);
using parserFn = void *(*)(void *network, void *logger, int version);
using versionFn = int32_t (*)();
std::mutex openMu;
factoryFn createRuntime = nullptr;
factoryFn createBuilder = nullptr;
parserFn createParser = nullptr;
int32_t libVersion = -1;

void *openLib(const char *path, const char *fallback, char *err, size_t errlen) {
	const char *name = path != nullptr ? path : fallback;
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (lib == nullptr) {
		const char *e = dlerror();
		std::snprintf(err, errlen, "cannot load %s: %s", name, e != nullptr ? e : "dlopen failed");
	}
	return lib;
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

// Members are destroyed in reverse order: profile is owned by the builder;
// parser before network before builder.
struct b4trt_builder {
	mutable Logger log;
	std::unique_ptr<nvinfer1::IBuilder> builder;
	std::unique_ptr<nvinfer1::INetworkDefinition> network;
	std::unique_ptr<nvonnxparser::IParser> parser;
	nvinfer1::IOptimizationProfile *profile = nullptr;
};

extern "C" {

int32_t b4trt_header_version(void) { return NV_TENSORRT_VERSION; }

int32_t b4trt_open(const char *path, char *err, size_t errlen) {
	std::lock_guard<std::mutex> lock(openMu);
	if (createRuntime != nullptr) {
		return libVersion;
	}
	void *lib = openLib(path, "libnvinfer.so." B4TRT_STR(NV_TENSORRT_MAJOR), err, errlen);
	if (lib == nullptr) {
		return -1;
	}
	auto version = reinterpret_cast<versionFn>(dlsym(lib, "getInferLibVersion"));
	auto runtime = reinterpret_cast<factoryFn>(dlsym(lib, "createInferRuntime_INTERNAL"));
	auto builder = reinterpret_cast<factoryFn>(dlsym(lib, "createInferBuilder_INTERNAL"));
	if (version == nullptr || runtime == nullptr || builder == nullptr) {
		std::snprintf(err, errlen, "the TensorRT library lacks getInferLibVersion, createInferRuntime_INTERNAL or createInferBuilder_INTERNAL");
		return -1;
	}
	libVersion = version();
	createRuntime = runtime;
	createBuilder = builder;
	return libVersion;
}

int b4trt_open_parser(const char *path, char *err, size_t errlen) {
	std::lock_guard<std::mutex> lock(openMu);
	if (createParser != nullptr) {
		return 0;
	}
	void *lib = openLib(path, "libnvonnxparser.so." B4TRT_STR(NV_TENSORRT_MAJOR), err, errlen);
	if (lib == nullptr) {
		return -1;
	}
	createParser = reinterpret_cast<parserFn>(dlsym(lib, "createNvOnnxParser_INTERNAL"));
	if (createParser == nullptr) {
		std::snprintf(err, errlen, "the ONNX parser library lacks createNvOnnxParser_INTERNAL");
		return -1;
	}
	return 0;
}

b4trt_engine *b4trt_load(const void *plan, size_t size, char *err, size_t errlen) {
	if (createRuntime == nullptr) {
		fail(nullptr, "TensorRT is not loaded (b4trt_open)", err, errlen);
		return nullptr;
	}
	if (plan == nullptr || size == 0) {
		fail(nullptr, "empty plan", err, errlen);
		return nullptr;
	}
	std::unique_ptr<b4trt_engine> e(new (std::nothrow) b4trt_engine);
	if (!e) {
		fail(nullptr, "out of host memory", err, errlen);
		return nullptr;
	}
	e->runtime.reset(static_cast<nvinfer1::IRuntime *>(createRuntime(&e->log, NV_TENSORRT_VERSION)));
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

b4trt_builder *b4trt_builder_new(const char *onnx_path, char *err, size_t errlen) {
	if (createBuilder == nullptr || createParser == nullptr) {
		fail(nullptr, "TensorRT or its ONNX parser is not loaded", err, errlen);
		return nullptr;
	}
	std::unique_ptr<b4trt_builder> b(new (std::nothrow) b4trt_builder);
	if (!b) {
		fail(nullptr, "out of host memory", err, errlen);
		return nullptr;
	}
	b->builder.reset(static_cast<nvinfer1::IBuilder *>(createBuilder(&b->log, NV_TENSORRT_VERSION)));
	if (!b->builder) {
		fail(&b->log, "createInferBuilder failed", err, errlen);
		return nullptr;
	}
	b->network.reset(b->builder->createNetworkV2(0));
	if (!b->network) {
		fail(&b->log, "createNetworkV2 failed", err, errlen);
		return nullptr;
	}
	b->parser.reset(static_cast<nvonnxparser::IParser *>(
	    createParser(b->network.get(), &b->log, NV_ONNX_PARSER_VERSION)));
	if (!b->parser) {
		fail(&b->log, "createNvOnnxParser failed", err, errlen);
		return nullptr;
	}
	if (!b->parser->parseFromFile(onnx_path, static_cast<int>(nvinfer1::ILogger::Severity::kERROR))) {
		std::string msg = "cannot parse the ONNX file";
		for (int32_t i = 0; i < b->parser->getNbErrors() && i < 4; i++) {
			msg += "; ";
			msg += b->parser->getError(i)->desc();
		}
		fail(&b->log, msg.c_str(), err, errlen);
		return nullptr;
	}
	b->profile = b->builder->createOptimizationProfile();
	if (b->profile == nullptr) {
		fail(&b->log, "createOptimizationProfile failed", err, errlen);
		return nullptr;
	}
	return b.release();
}

void b4trt_builder_destroy(b4trt_builder *b) { delete b; }

int b4trt_builder_num_inputs(const b4trt_builder *b) { return b->network->getNbInputs(); }

int b4trt_builder_input(const b4trt_builder *b, int index, b4trt_io *out, char *err, size_t errlen) {
	if (index < 0 || index >= b->network->getNbInputs()) {
		fail(nullptr, "input index out of range", err, errlen);
		return -1;
	}
	nvinfer1::ITensor *t = b->network->getInput(index);
	out->name = t->getName();
	out->is_input = 1;
	out->dtype = static_cast<int>(t->getType());
	fromDims(t->getDimensions(), &out->nb_dims, out->dims);
	return 0;
}

int b4trt_builder_profile(b4trt_builder *b, const char *name, int nb_dims, const int64_t *min,
                          const int64_t *opt, const int64_t *max, char *err, size_t errlen) {
	b->log.take(); // report only this call's errors
	nvinfer1::Dims dmin, dopt, dmax;
	if (!toDims(nb_dims, min, &dmin) || !toDims(nb_dims, opt, &dopt) || !toDims(nb_dims, max, &dmax)) {
		fail(nullptr, "too many dimensions", err, errlen);
		return -1;
	}
	if (!b->profile->setDimensions(name, nvinfer1::OptProfileSelector::kMIN, dmin) ||
	    !b->profile->setDimensions(name, nvinfer1::OptProfileSelector::kOPT, dopt) ||
	    !b->profile->setDimensions(name, nvinfer1::OptProfileSelector::kMAX, dmax)) {
		fail(&b->log, "setDimensions failed", err, errlen);
		return -1;
	}
	return 0;
}

int b4trt_builder_build(b4trt_builder *b, int flags, uint64_t workspace, const void *cache, size_t cache_len,
                        void **plan, size_t *plan_len, void **new_cache, size_t *new_cache_len, char *err,
                        size_t errlen) {
	b->log.take(); // report only this call's errors
	*plan = nullptr;
	*new_cache = nullptr;
	std::unique_ptr<nvinfer1::IBuilderConfig> config(b->builder->createBuilderConfig());
	if (!config) {
		fail(&b->log, "createBuilderConfig failed", err, errlen);
		return -1;
	}
	if (workspace > 0) {
		config->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, workspace);
	}
	if (flags & (B4TRT_BUILD_FP16 | B4TRT_BUILD_BF16)) {
#if NV_TENSORRT_MAJOR < 11
		// Weakly typed precision flags: deprecated since 10.12 in favour
		// of strongly typed networks, and gone in 11.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		config->setFlag((flags & B4TRT_BUILD_FP16) ? nvinfer1::BuilderFlag::kFP16 : nvinfer1::BuilderFlag::kBF16);
#pragma GCC diagnostic pop
#else
		fail(nullptr, "TensorRT " B4TRT_STR(NV_TENSORRT_MAJOR) " builds strongly typed networks only: export the ONNX file in fp16 or bf16 instead of asking the builder", err, errlen);
		return -1;
#endif
	}
	if (config->addOptimizationProfile(b->profile) < 0) {
		fail(&b->log, "addOptimizationProfile failed (is every dynamic input given a shape range?)", err, errlen);
		return -1;
	}
	std::unique_ptr<nvinfer1::ITimingCache> tc(config->createTimingCache(cache, cache_len));
	if (!tc || !config->setTimingCache(*tc, false)) {
		fail(&b->log, "timing cache rejected", err, errlen);
		return -1;
	}
	std::unique_ptr<nvinfer1::IHostMemory> mem(b->builder->buildSerializedNetwork(*b->network, *config));
	if (!mem || mem->size() == 0) {
		fail(&b->log, "buildSerializedNetwork failed", err, errlen);
		return -1;
	}
	std::unique_ptr<nvinfer1::IHostMemory> cmem(config->getTimingCache()->serialize());
	*plan = std::malloc(mem->size());
	*new_cache = std::malloc(cmem ? cmem->size() + 1 : 1);
	if (*plan == nullptr || *new_cache == nullptr) {
		std::free(*plan);
		std::free(*new_cache);
		*plan = *new_cache = nullptr;
		fail(nullptr, "out of host memory", err, errlen);
		return -1;
	}
	std::memcpy(*plan, mem->data(), mem->size());
	*plan_len = mem->size();
	*new_cache_len = 0;
	if (cmem) {
		std::memcpy(*new_cache, cmem->data(), cmem->size());
		*new_cache_len = cmem->size();
	}
	return 0;
}

} // extern "C"

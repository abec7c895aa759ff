#include "ort_runtime.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace llfc::ort {
namespace {

// Slots of onnxruntime's OrtApi function table (include/onnxruntime/core/session/onnxruntime_c_api.h
// declares them in this order; released slots never move). Every slot here exists since API 5.
enum Slot : size_t {
  GetErrorMessage = 2,
  CreateEnv = 3,
  CreateSessionFromArray = 8,
  Run = 9,
  CreateSessionOptions = 10,
  DisableMemPattern = 17,
  DisableCpuMemArena = 19,
  SetSessionLogSeverityLevel = 22,
  SetSessionGraphOptimizationLevel = 23,
  SetIntraOpNumThreads = 24,
  SessionGetInputCount = 30,
  SessionGetOutputCount = 31,
  SessionGetInputName = 36,
  SessionGetOutputName = 37,
  CreateTensorWithDataAsOrtValue = 49,
  IsTensor = 50,
  GetTensorMutableData = 51,
  GetTensorElementType = 60,
  GetDimensionsCount = 61,
  GetDimensions = 62,
  GetTensorShapeElementCount = 64,
  GetTensorTypeAndShape = 65,
  CreateCpuMemoryInfo = 69,
  AllocatorFree = 76,
  GetAllocatorWithDefaultOptions = 78,
  ReleaseStatus = 93,
  ReleaseSession = 95,
  ReleaseValue = 96,
  ReleaseTensorTypeAndShapeInfo = 99,
  ReleaseSessionOptions = 100,
  AddSessionConfigEntry = 130,
};

// The API version asked for: the table of onnxruntime 1.17 and later holds every slot above.
constexpr uint32_t kApiVersion = 17;
// Enum values of the C API.
constexpr int kLogError = 3, kLogFatal = 4;
constexpr int kOptimizeNone = 0, kOptimizeAll = 99;
constexpr int kDeviceAllocator = 0, kMemTypeDefault = 0;

using Status = void*;

struct ApiBase {
  void* const* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)();
};

struct Runtime {
  void* const* api = nullptr;
  std::string version, why;
  void* env = nullptr;
  void* cpu = nullptr;  // OrtMemoryInfo of the caller's buffers
};

// The libraries onnxruntime-node loads (its binding's DT_NEEDED name), looked up, never loaded.
constexpr const char* kLibraries[] = {"libonnxruntime.so.1", "libonnxruntime.1.dylib", "libonnxruntime.dylib"};

Runtime& runtime() {
  static Runtime rt;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = nullptr;
    for (const char* name : kLibraries) {
      if ((lib = dlopen(name, RTLD_NOW | RTLD_NOLOAD)) != nullptr) break;
    }
    if (!lib) {
      rt.why = "onnxruntime's library is not loaded in this process";
      return;
    }
    auto get_base = reinterpret_cast<const ApiBase* (*)()>(dlsym(lib, "OrtGetApiBase"));
    const ApiBase* base = get_base ? get_base() : nullptr;
    if (!base) {
      rt.why = "onnxruntime's library exports no OrtGetApiBase";
      return;
    }
    rt.version = base->GetVersionString();
    void* const* api = base->GetApi(kApiVersion);
    if (!api) {
      rt.why = "onnxruntime " + rt.version + " does not offer API version " + std::to_string(kApiVersion);
      return;
    }
    auto fail = [&](Status s, const char* what) {
      if (!s) return false;
      rt.why = std::string(what) + ": " + reinterpret_cast<const char* (*)(Status)>(api[GetErrorMessage])(s);
      reinterpret_cast<void (*)(Status)>(api[ReleaseStatus])(s);
      return true;
    };
    // The environment is a process-wide singleton: this shares onnxruntime-node's.
    if (fail(reinterpret_cast<Status (*)(int, const char*, void**)>(api[CreateEnv])(kLogError, "llfc", &rt.env), "CreateEnv")) return;
    if (fail(reinterpret_cast<Status (*)(int, int, void**)>(api[CreateCpuMemoryInfo])(kDeviceAllocator, kMemTypeDefault, &rt.cpu), "CreateCpuMemoryInfo")) return;
    rt.api = api;
  });
  return rt;
}

// The function in `slot`, typed as the header declares it.
template <typename F>
F fn(Slot slot) {
  return reinterpret_cast<F>(runtime().api[slot]);
}

// Throws onnxruntime's message for a failed call.
void check(Status s, const std::string& what) {
  if (!s) return;
  std::string message = fn<const char* (*)(Status)>(GetErrorMessage)(s);
  fn<void (*)(Status)>(ReleaseStatus)(s);
  throw std::runtime_error(what.empty() ? message : what + ": " + message);
}

void release_value(void* v) { fn<void (*)(void*)>(ReleaseValue)(v); }

// A value over the caller's memory (onnxruntime reads or writes it; it never frees it).
std::shared_ptr<void> wrap(const std::string& name, int type, const std::vector<int64_t>& dims, void* data, size_t bytes) {
  static char empty;
  void* value = nullptr;
  check(fn<Status (*)(const void*, void*, size_t, const int64_t*, size_t, int, void**)>(CreateTensorWithDataAsOrtValue)(
            runtime().cpu, bytes == 0 ? &empty : data, bytes, dims.data(), dims.size(), type, &value),
        "'" + name + "'");
  return {value, release_value};
}

// The names of a session's inputs or outputs.
std::vector<std::string> names(void* session, Slot count_slot, Slot name_slot) {
  void* allocator = nullptr;
  check(fn<Status (*)(void**)>(GetAllocatorWithDefaultOptions)(&allocator), "");
  size_t n = 0;
  check(fn<Status (*)(const void*, size_t*)>(count_slot)(session, &n), "");
  std::vector<std::string> out;
  for (size_t k = 0; k < n; ++k) {
    char* name = nullptr;
    check(fn<Status (*)(const void*, size_t, void*, char**)>(name_slot)(session, k, allocator, &name), "");
    out.emplace_back(name);
    check(fn<Status (*)(void*, void*)>(AllocatorFree)(allocator, name), "");
  }
  return out;
}

// The type, dims and memory of a tensor value onnxruntime allocated.
void describe(void* value, Output& out) {
  int tensor = 0;
  check(fn<Status (*)(const void*, int*)>(IsTensor)(value, &tensor), "'" + out.name + "'");
  if (!tensor) throw std::runtime_error("'" + out.name + "' is not a tensor (a sequence or map)");
  void* info = nullptr;
  check(fn<Status (*)(const void*, void**)>(GetTensorTypeAndShape)(value, &info), "'" + out.name + "'");
  std::unique_ptr<void, void (*)(void*)> held(info, [](void* i) { fn<void (*)(void*)>(ReleaseTensorTypeAndShapeInfo)(i); });
  size_t rank = 0, count = 0;
  check(fn<Status (*)(const void*, int*)>(GetTensorElementType)(info, &out.type), "'" + out.name + "'");
  check(fn<Status (*)(const void*, size_t*)>(GetDimensionsCount)(info, &rank), "'" + out.name + "'");
  out.dims.assign(rank, 0);
  check(fn<Status (*)(const void*, int64_t*, size_t)>(GetDimensions)(info, out.dims.data(), rank), "'" + out.name + "'");
  check(fn<Status (*)(const void*, size_t*)>(GetTensorShapeElementCount)(info, &count), "'" + out.name + "'");
  const size_t size = element_bytes(out.type);
  if (size == 0) throw std::runtime_error("'" + out.name + "' has element type " + std::to_string(out.type) + ", which llfc does not read");
  out.bytes = count * size;
  check(fn<Status (*)(void*, void**)>(GetTensorMutableData)(value, &out.data), "'" + out.name + "'");
}

}  // namespace

bool available(std::string* why) {
  const Runtime& rt = runtime();
  if (!rt.api && why) *why = rt.why;
  return rt.api != nullptr;
}

std::string version() { return runtime().api ? runtime().version : std::string(); }

size_t element_bytes(int type) {
  switch (type) {
    case 2: case 3: case 9: return 1;   // uint8, int8, bool
    case 4: case 5: case 10: return 2;  // uint16, int16, float16
    case 1: case 6: case 12: return 4;  // float, int32, uint32
    case 7: case 11: case 13: return 8; // int64, double, uint64
    default: return 0;
  }
}

std::shared_ptr<Session> Session::create(const void* model, size_t bytes, const SessionSettings& settings) {
  if (!available(nullptr)) throw std::runtime_error(runtime().why);
  void* options = nullptr;
  check(fn<Status (*)(void**)>(CreateSessionOptions)(&options), "session options");
  std::unique_ptr<void, void (*)(void*)> held(options, [](void* o) { fn<void (*)(void*)>(ReleaseSessionOptions)(o); });
  // As lib/session.ts's sessionOptions: no arena or memory pattern (one block per run would
  // map fresh pages every run), threads that sleep between runs, fatal messages only.
  check(fn<Status (*)(void*)>(DisableCpuMemArena)(options), "session options");
  check(fn<Status (*)(void*)>(DisableMemPattern)(options), "session options");
  check(fn<Status (*)(void*, int)>(SetSessionLogSeverityLevel)(options, kLogFatal), "session options");
  check(fn<Status (*)(void*, int)>(SetSessionGraphOptimizationLevel)(options, settings.optimize ? kOptimizeAll : kOptimizeNone), "session options");
  if (settings.threads > 0) check(fn<Status (*)(void*, int)>(SetIntraOpNumThreads)(options, settings.threads), "session options");
  for (const char* key : {"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"}) {
    check(fn<Status (*)(void*, const char*, const char*)>(AddSessionConfigEntry)(options, key, "0"), "session options");
  }
  void* session = nullptr;
  check(fn<Status (*)(const void*, const void*, size_t, const void*, void**)>(CreateSessionFromArray)(runtime().env, model, bytes, options, &session), "");
  std::shared_ptr<Session> out(new Session(session));
  out->inputs_ = names(session, SessionGetInputCount, SessionGetInputName);
  out->outputs_ = names(session, SessionGetOutputCount, SessionGetOutputName);
  return out;
}

Session::~Session() { fn<void (*)(void*)>(ReleaseSession)(session_); }

void Session::run(const std::vector<Input>& inputs, std::vector<Output>& outputs) const {
  std::vector<std::shared_ptr<void>> held;
  std::vector<const char*> in_names, out_names;
  std::vector<void*> in_values, out_values;
  for (const Input& in : inputs) {
    if (in.bytes % std::max<size_t>(element_bytes(in.type), 1) != 0) throw std::runtime_error("'" + in.name + "': a partial element");
    held.push_back(wrap(in.name, in.type, in.dims, const_cast<void*>(in.data), in.bytes));
    in_names.push_back(in.name.c_str());
    in_values.push_back(held.back().get());
  }
  for (Output& out : outputs) {
    out_names.push_back(out.name.c_str());
    if (out.data) {
      held.push_back(wrap(out.name, out.type, out.dims, out.data, out.bytes));
      out_values.push_back(held.back().get());
    } else {
      out_values.push_back(nullptr);
    }
  }
  check(fn<Status (*)(void*, const void*, const char* const*, const void* const*, size_t, const char* const*, size_t, void**)>(Run)(
            session_, nullptr, in_names.data(), in_values.data(), in_values.size(), out_names.data(), out_names.size(), out_values.data()),
        "");
  // Every value onnxruntime allocated is owned before any is read, so a failure frees them all.
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k].data) outputs[k].owned = std::shared_ptr<void>(out_values[k], release_value);
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k].owned) describe(out_values[k], outputs[k]);
  }
}

}  // namespace llfc::ort

// onnxruntime's C API, reached through the library onnxruntime-node has already loaded, so that
// a tapped run writes its features into buffers the caller keeps and reuses across batches.
// onnxruntime-node returns every output in a new JS buffer, zero-filled and then copied into:
// on a tapped ResNet pass that allocation, copy and the collections of the spent buffers took
// about a third of the CPU time.
//
// No header of onnxruntime is compiled in: the API is a table of function pointers whose order
// onnxruntime keeps fixed across releases, and native/ort_runtime.cc names the few slots it calls.
// Plain C++: the binding (native/binding_ort.h) turns JS values into these calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llfc::ort {

// Whether onnxruntime's library is loaded in this process and its API is usable; `why` says
// why not. The first call looks it up (and creates the runtime's environment) once.
bool available(std::string* why);

// onnxruntime's version string ("1.30.0"); empty when unavailable.
std::string version();

// Bytes of one element of an ONNX tensor element type (TensorProto.DataType), 0 for a type
// runs do not carry here (strings, complex, sub-byte types).
size_t element_bytes(int type);

struct SessionSettings {
  // Intra-op threads; 0 lets onnxruntime choose.
  int threads = 0;
  // Full graph optimization, or none (every value of the graph as written is computed).
  bool optimize = true;
};

// A tensor fed to a run: the caller's memory, not copied.
struct Input {
  std::string name;
  int type = 0;
  std::vector<int64_t> dims;
  const void* data = nullptr;
  size_t bytes = 0;
};

// A value a run returns. Given `data` (and its dims and type), onnxruntime writes into it;
// otherwise it allocates the value, and `data` points into `owned` after the run.
struct Output {
  std::string name;
  int type = 0;
  std::vector<int64_t> dims;
  void* data = nullptr;
  size_t bytes = 0;
  // An onnxruntime-allocated value, released with the Output.
  std::shared_ptr<void> owned;
};

class Session {
 public:
  // A session of the serialized model; throws std::runtime_error with onnxruntime's message.
  static std::shared_ptr<Session> create(const void* model, size_t bytes, const SessionSettings& settings);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<std::string>& input_names() const { return inputs_; }
  const std::vector<std::string>& output_names() const { return outputs_; }

  // Runs the model; throws std::runtime_error with onnxruntime's message (a preallocated
  // output whose dims the run does not produce is such an error).
  void run(const std::vector<Input>& inputs, std::vector<Output>& outputs) const;

 private:
  explicit Session(void* session) : session_(session) {}
  void* session_;
  std::vector<std::string> inputs_, outputs_;
};

}  // namespace llfc::ort

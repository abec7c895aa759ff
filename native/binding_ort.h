// The onnxruntime runner's exports (native/ort_runtime.h), part of the one binding file:
//   ortRuntime() -> { version } | { unavailable: reason }
//   ortCreateSession(model: Uint8Array, { threads, optimize }) -> Promise<{ session, inputs, outputs }>
//   ortRun(session, inputs: Tensor[], outputs: { name, type?, dims?, data?, adopt? }[]) -> Tensor[]
//   ortRelease(session)
// with Tensor = { name, type (ONNX element type), dims: number[], data: typed array of that type }.
// An output given `data` is written by the run into that array (which the result returns);
// one without is allocated by onnxruntime and comes back in a new array: a copy, or with `adopt`
// onnxruntime's own memory (value_buffer says when each is right). A session is built in
// the thread pool from a copy of the model. A run reads and writes the caller's arrays in place,
// so it runs on the calling thread, as onnxruntime-node's do: while a run in the pool went on,
// JavaScript could transfer one of its arrays and let it be freed under it. (llfc runs its
// passes in worker threads, lib/worker/.) On the calling thread, too, a run's values come from
// one malloc arena: spread over the pool's threads, each run's landed in another thread's arena
// and a tapped ResNet pass held twice the memory.
#pragma once
#include <napi.h>

#include <cstring>

#include "binding_args.h"
#include "ort_runtime.h"

namespace llfc::binding {

// Marks the externals that are sessions (napi_type_tag_object), so no other value is taken for one.
constexpr napi_type_tag kSessionTag = {0x6c6c6663'6f727473ULL, 0x65737369'6f6e0001ULL};

struct SessionBox {
  std::shared_ptr<ort::Session> session;
};

constexpr uint32_t kMaxTensorRank = 32;

// The typed array an ONNX element type travels in.
napi_typedarray_type array_kind(Napi::Env env, int type, const std::string& name) {
  switch (type) {
    case 1: return napi_float32_array;
    case 2: case 9: return napi_uint8_array;
    case 3: return napi_int8_array;
    case 4: case 10: return napi_uint16_array;
    case 5: return napi_int16_array;
    case 6: return napi_int32_array;
    case 7: return napi_bigint64_array;
    case 11: return napi_float64_array;
    case 12: return napi_uint32_array;
    case 13: return napi_biguint64_array;
    default: throw_range(env, name + ".type " + std::to_string(type) + " is not an element type runs carry");
  }
}

// A tensor's fields, read (step 1).
struct TensorJs {
  Napi::Value name, type, dims, data, adopt;
  std::vector<Napi::Value> dim_values;
};

TensorJs read_tensor(Napi::Env env, const Napi::Value& v, const std::string& name, bool data_optional) {
  Options o(env, v, name);
  TensorJs t{o.get("name"), o.get("type"), o.get("dims"), o.get("data"), data_optional ? o.get("adopt") : Napi::Value(), {}};
  if (!(data_optional && absent(t.data))) t.dim_values = elements(env, t.dims, o.name("dims"), "numbers", kMaxTensorRank);
  return t;
}

// A tensor's name, type, dims and memory, checked against each other (steps 2 and 3).
template <typename T>
void view_tensor(Napi::Env env, const TensorJs& js, const std::string& name, T& out) {
  if (!js.name.IsString()) throw_type(env, name + ".name must be a string");
  out.name = js.name.As<Napi::String>().Utf8Value();
  if (out.name.find('\0') != std::string::npos) throw_range(env, name + ".name holds a NUL character");
  if (absent(js.data)) return;
  out.type = static_cast<int>(integer(env, js.type, name + ".type", 1, 64));
  if (!is_typed(js.data, array_kind(env, out.type, name))) throw_type(env, name + ".data is not the typed array of element type " + std::to_string(out.type));
  auto array = js.data.As<Napi::TypedArray>();
  if (array.ArrayBuffer().IsDetached()) throw_type(env, name + ".data is detached (its buffer was transferred)");
  size_t elements = 1;
  for (size_t k = 0; k < js.dim_values.size(); ++k) {
    const size_t d = integer(env, js.dim_values[k], name + ".dims[" + std::to_string(k) + "]");
    out.dims.push_back(static_cast<int64_t>(d));
    elements = product(env, {elements, d}, name + ".dims");
  }
  expect_length(env, array.ElementLength(), elements, name + ".data");
  out.data = static_cast<char*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  out.bytes = array.ByteLength();
}

SessionBox& session_box(Napi::Env env, const Napi::Value& v) {
  bool tagged = false;
  if (v.IsExternal() && napi_check_object_type_tag(env, v, &kSessionTag, &tagged) != napi_ok) tagged = false;
  if (!tagged) throw_type(env, "session must be a session from ortCreateSession");
  return *v.As<Napi::External<SessionBox>>().Data();
}

// A typed array of `kind` over the whole buffer.
Napi::Value typed_array(Napi::Env env, napi_typedarray_type kind, size_t length, const Napi::ArrayBuffer& buffer) {
  napi_value out;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, kind, length, buffer, 0, &out), Napi::Value());
  return Napi::Value(env, out);
}

Napi::Value OrtRuntime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  std::string why;
  if (ort::available(&why)) out.Set("version", ort::version());
  else out.Set("unavailable", why);
  return out;
}

Napi::Array string_array(Napi::Env env, const std::vector<std::string>& names) {
  auto out = Napi::Array::New(env, names.size());
  for (size_t k = 0; k < names.size(); ++k) out.Set(static_cast<uint32_t>(k), names[k]);
  return out;
}

// Builds a session in the thread pool from its own copy of the model.
class CreateSessionWorker : public Napi::AsyncWorker {
 public:
  CreateSessionWorker(Napi::Env env, std::vector<uint8_t> model, ort::SessionSettings settings)
      : Napi::AsyncWorker(env, "llfc.ortCreateSession"), deferred_(Napi::Promise::Deferred::New(env)), model_(std::move(model)), settings_(settings) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      session_ = ort::Session::create(model_.data(), model_.size(), settings_);
    } catch (const std::bad_alloc&) {
      SetError("llfc native: out of memory");
    } catch (const std::exception& e) {
      SetError(std::string("llfc native: onnxruntime: ") + e.what());
    }
    model_ = {};
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    auto* box = new SessionBox{session_};
    auto handle = Napi::External<SessionBox>::New(env, box, [](Napi::Env, SessionBox* b) { delete b; });
    if (napi_type_tag_object(env, handle, &kSessionTag) != napi_ok) {
      deferred_.Reject(Napi::Error::New(env, "llfc native: cannot tag the session handle").Value());
      return;
    }
    auto out = Napi::Object::New(env);
    out.Set("session", handle);
    out.Set("inputs", string_array(env, session_->input_names()));
    out.Set("outputs", string_array(env, session_->output_names()));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<uint8_t> model_;
  ort::SessionSettings settings_;
  std::shared_ptr<ort::Session> session_;
};

Napi::Value OrtCreateSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Options o(env, info[1], "ortCreateSession options");
  const Napi::Value threads_js = o.get("threads"), optimize_js = o.get("optimize");
  const auto model = view<uint8_t>(env, info[0], "model");
  ort::SessionSettings settings;
  settings.threads = threads(env, threads_js, o.name("threads"), 0);
  settings.optimize = absent(optimize_js) ? true : boolean(env, optimize_js, o.name("optimize"));
  std::string why;
  if (!ort::available(&why)) throw Napi::Error::New(env, "llfc native: " + why);
  std::vector<uint8_t> copy = guarded(env, [&] { return std::vector<uint8_t>(model.data, model.data + model.length); });
  auto* worker = new CreateSessionWorker(env, std::move(copy), settings);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// The memory of a value onnxruntime allocated as an ArrayBuffer: with `adopt`, the value itself,
// released when the buffer is collected, for an array a pass keeps and has onnxruntime write
// into again (a copy would leave the value's freed memory idle beside it: malloc keeps it);
// otherwise a copy, so the value's memory goes back at once (a buffer's collection can come late).
Napi::ArrayBuffer value_buffer(Napi::Env env, const ort::Output& out, bool adopt) {
  if (adopt && out.bytes > 0) {
    auto* owner = new std::shared_ptr<void>(out.owned);
    napi_value buffer;
    const auto release = [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<void>*>(hint); };
    if (napi_create_external_arraybuffer(env, out.data, out.bytes, release, owner, &buffer) == napi_ok) return Napi::ArrayBuffer(env, buffer);
    delete owner;  // a runtime that refuses external buffers gets a copy
  }
  auto buffer = Napi::ArrayBuffer::New(env, out.bytes);
  if (out.bytes > 0) std::memcpy(buffer.Data(), out.data, out.bytes);
  return buffer;
}

// A run's outputs as tensors: given arrays as they were passed, onnxruntime's values as new ones.
// Each of onnxruntime's values is let go as soon as its array exists, so a run's outputs are
// never all held twice.
Napi::Array run_result(Napi::Env env, std::vector<ort::Output>& outputs, const std::vector<Napi::Value>& given,
                       const std::vector<bool>& adopt) {
  auto result = Napi::Array::New(env, outputs.size());
  for (size_t k = 0; k < outputs.size(); ++k) {
    ort::Output& out = outputs[k];
    Napi::Value data = given[k];
    if (absent(data)) data = typed_array(env, array_kind(env, out.type, "output"), out.bytes / ort::element_bytes(out.type), value_buffer(env, out, adopt[k]));
    out.owned.reset();
    auto dims = Napi::Array::New(env, out.dims.size());
    for (size_t d = 0; d < out.dims.size(); ++d) dims.Set(static_cast<uint32_t>(d), static_cast<double>(out.dims[d]));
    auto tensor = Napi::Object::New(env);
    tensor.Set("name", out.name);
    tensor.Set("type", out.type);
    tensor.Set("dims", dims);
    tensor.Set("data", data);
    result.Set(static_cast<uint32_t>(k), tensor);
  }
  return result;
}

Napi::Value OrtRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Step 1: read every value.
  const Napi::Value session_js = info[0];
  std::vector<TensorJs> inputs_js, outputs_js;
  for (const auto& v : elements(env, info[1], "inputs", "tensors")) inputs_js.push_back(read_tensor(env, v, "inputs[" + std::to_string(inputs_js.size()) + "]", false));
  for (const auto& v : elements(env, info[2], "outputs", "outputs")) outputs_js.push_back(read_tensor(env, v, "outputs[" + std::to_string(outputs_js.size()) + "]", true));
  // Steps 2 and 3: views, checked.
  SessionBox& box = session_box(env, session_js);
  if (!box.session) throw_type(env, "session was released");
  std::vector<ort::Input> inputs(inputs_js.size());
  std::vector<ort::Output> outputs(outputs_js.size());
  std::vector<Napi::Value> given;
  std::vector<bool> adopt;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::string name = "inputs[" + std::to_string(k) + "]";
    if (absent(inputs_js[k].data)) throw_type(env, name + ".data must be a typed array");
    view_tensor(env, inputs_js[k], name, inputs[k]);
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    view_tensor(env, outputs_js[k], "outputs[" + std::to_string(k) + "]", outputs[k]);
    given.push_back(outputs_js[k].data);
    adopt.push_back(!absent(outputs_js[k].adopt) && boolean(env, outputs_js[k].adopt, "outputs[" + std::to_string(k) + "].adopt"));
    for (size_t j = 0; j < k; ++j) {
      if (overlaps(outputs[k].data, outputs[k].bytes, outputs[j].data, outputs[j].bytes)) throw_range(env, "outputs[" + std::to_string(k) + "].data overlaps outputs[" + std::to_string(j) + "].data");
    }
    for (size_t j = 0; j < inputs.size(); ++j) {
      if (overlaps(outputs[k].data, outputs[k].bytes, inputs[j].data, inputs[j].bytes)) throw_range(env, "outputs[" + std::to_string(k) + "].data overlaps inputs[" + std::to_string(j) + "].data");
    }
  }
  guarded(env, [&] {
    try {
      box.session->run(inputs, outputs);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string("onnxruntime: ") + e.what());
    }
  });
  return run_result(env, outputs, given, adopt);
}

Napi::Value OrtRelease(const Napi::CallbackInfo& info) {
  // Runs are synchronous, so none is under way; a session being built is not in a box yet.
  session_box(info.Env(), info[0]).session.reset();
  return info.Env().Undefined();
}

}  // namespace llfc::binding

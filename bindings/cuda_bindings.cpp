// graphgpo._core._cuda: the CUDA entry points for Python. Arrays arrive as DLPack capsules (torch CUDA
// tensors export them with __dlpack__()), are checked here (device, dtype, shape, contiguity) and read in
// place on the device: no host round-trip. The capsules are only borrowed: their producer frees them.
// In CPU-only builds every function but compiled() and device_count() raises RuntimeError (the engine's
// NotCompiledWithCuda error).
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "bindings.hpp"
#include "graphgpo/cuda.hpp"
#include "graphgpo/error.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo_bindings {
namespace {

// The DLPack ABI (https://dmlc.github.io/dlpack/latest/c_api.html), the parts read here.
struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  DLTensor dl_tensor;
};
constexpr int32_t kDLCUDA = 2;
constexpr int32_t kDLCUDAManaged = 13;
constexpr uint8_t kDLInt = 0;
constexpr uint8_t kDLUInt = 1;
constexpr uint8_t kDLFloat = 2;
constexpr uint8_t kDLBool = 6;

[[noreturn]] void type_error(const std::string& message) {
  throw graphgpo::Error(graphgpo::ErrorCode::TypeMismatch, message);
}

// A borrowed view of one DLPack capsule.
struct View {
  const DLTensor* t = nullptr;
  void* data() const { return static_cast<char*>(t->data) + t->byte_offset; }
  int64_t dim(int k) const { return t->shape[k]; }
};

View view_of(const py::handle& capsule, const char* name) {
  PyObject* p = capsule.ptr();
  if (!PyCapsule_CheckExact(p))
    type_error(std::string(name) + ": expected a DLPack capsule (tensor.__dlpack__()), got " +
               Py_TYPE(p)->tp_name);
  View v;
  if (PyCapsule_IsValid(p, "dltensor")) {
    v.t = &static_cast<DLManagedTensor*>(PyCapsule_GetPointer(p, "dltensor"))->dl_tensor;
  } else if (PyCapsule_IsValid(p, "dltensor_versioned")) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(p, "dltensor_versioned"));
    if (m->version.major != 1) type_error(std::string(name) + ": unsupported DLPack major version");
    v.t = &m->dl_tensor;
  } else {
    type_error(std::string(name) + ": the DLPack capsule was already consumed or is not a tensor");
  }
  if (v.t->device.device_type != kDLCUDA && v.t->device.device_type != kDLCUDAManaged)
    type_error(std::string(name) + " must be a CUDA tensor (DLPack device type " +
               std::to_string(v.t->device.device_type) + ")");
  return v;
}

std::string dtype_name(const DLDataType& d) {
  const char* kind = d.code == kDLInt ? "int" : d.code == kDLUInt ? "uint" : d.code == kDLFloat ? "float"
                     : d.code == kDLBool ? "bool" : "code";
  return std::string(kind) + std::to_string(d.bits) + (d.lanes != 1 ? "x" + std::to_string(d.lanes) : "");
}

// Checks dtype, rank, shape (-1 = any) and C-contiguity.
View checked(const py::handle& capsule, const char* name, uint8_t code, uint8_t bits, int ndim, int64_t d0,
             int64_t d1 = -1, int device = -1) {
  View v = view_of(capsule, name);
  const DLTensor& t = *v.t;
  const bool bool_as_u8 = code == kDLUInt && bits == 8 && t.dtype.code == kDLBool && t.dtype.bits == 8;
  if (!bool_as_u8 && (t.dtype.code != code || t.dtype.bits != bits || t.dtype.lanes != 1)) {
    DLDataType want{code, bits, 1};
    type_error(std::string(name) + " must have dtype " + dtype_name(want) + ", got " + dtype_name(t.dtype));
  }
  if (t.ndim != ndim)
    throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) + "-dimensional, got " +
                          std::to_string(t.ndim) + " dimensions");
  if (d0 >= 0 && t.shape[0] != d0)
    throw py::value_error(std::string(name) + " must have " + std::to_string(d0) + " rows, got " +
                          std::to_string(t.shape[0]));
  if (ndim > 1 && d1 >= 0 && t.shape[1] != d1)
    throw py::value_error(std::string(name) + " must have shape (n, " + std::to_string(d1) + ")");
  bool empty = false;
  for (int k = 0; k < ndim; ++k) empty = empty || t.shape[k] == 0;
  if (t.strides && !empty) {
    int64_t expected = 1;
    for (int k = ndim - 1; k >= 0; --k) {
      if (t.shape[k] != 1 && t.strides[k] != expected)
        throw py::value_error(std::string(name) + " must be contiguous (call .contiguous())");
      expected *= t.shape[k];
    }
  }
  if (reinterpret_cast<uintptr_t>(v.data()) % (bits / 8 ? bits / 8 : 1) != 0)
    throw py::value_error(std::string(name) + " is not aligned to its element size");
  if (device >= 0 && t.device.device_id != device)
    throw py::value_error(std::string(name) + " is on cuda:" + std::to_string(t.device.device_id) +
                          ", expected cuda:" + std::to_string(device));
  return v;
}

template <typename T>
const T* optional_field(const py::object& capsule, const char* name, uint8_t code, uint8_t bits, int64_t n,
                        int device) {
  if (capsule.is_none()) return nullptr;
  return static_cast<const T*>(checked(capsule, name, code, bits, 1, n, -1, device).data());
}

const graphgpo::Fingerprint* fingerprint_field(const py::object& capsule, const char* name, int64_t n, int device,
                                               bool required) {
  if (capsule.is_none()) {
    if (required) throw py::value_error(std::string(name) + " is required");
    return nullptr;
  }
  View v = view_of(capsule, name);
  const uint8_t code = v.t->dtype.code == kDLUInt ? kDLUInt : kDLInt;  // int64 or uint64 pairs (lo, hi)
  v = checked(capsule, name, code, 64, 2, n, 2, device);
  return static_cast<const graphgpo::Fingerprint*>(v.data());
}

graphgpo::cuda::Stream stream_of(uintptr_t handle) { return reinterpret_cast<graphgpo::cuda::Stream>(handle); }

struct DeviceRows {
  graphgpo::cuda::DeviceBatch batch;
  int device = 0;
};

DeviceRows device_rows(const py::object& group, const py::object& trajectory, const py::object& state,
                       const py::object& next_state, const py::object& success, const py::object& valid,
                       const py::object& reward, const py::object& cost, const py::object& action) {
  const View g = checked(group, "group", kDLInt, 64, 1, -1);
  const int64_t n = g.dim(0);
  DeviceRows r;
  r.device = g.t->device.device_id;
  const int device = r.device;
  graphgpo::cuda::DeviceBatch& b = r.batch;
  b.n = static_cast<size_t>(n);
  b.group = static_cast<const int64_t*>(g.data());
  b.trajectory = static_cast<const int64_t*>(checked(trajectory, "trajectory", kDLInt, 64, 1, n, -1, device).data());
  b.state = fingerprint_field(state, "state", n, device, true);
  b.next_state = fingerprint_field(next_state, "next_state", n, device, false);
  b.success = static_cast<const uint8_t*>(checked(success, "success", kDLUInt, 8, 1, n, -1, device).data());
  b.valid = optional_field<uint8_t>(valid, "valid", kDLUInt, 8, n, device);
  b.reward = optional_field<double>(reward, "reward", kDLFloat, 64, n, device);
  b.cost = optional_field<double>(cost, "cost", kDLFloat, 64, n, device);
  b.action = optional_field<int64_t>(action, "action", kDLInt, 64, n, device);
  return r;
}

void advantages(const std::string& method_name, const py::object& group, const py::object& trajectory,
                const py::object& state, const py::object& next_state, const py::object& success,
                const py::object& valid, const py::object& reward, const py::object& cost, const py::object& action,
                const std::string& options_json, const py::object& out, const py::object& workspace,
                uintptr_t stream) {
  const graphgpo::Method method = graphgpo::parse_method(method_name);
  const graphgpo::Options options = graphgpo::parse_options_json(options_json);
  if (!graphgpo::cuda::compiled()) graphgpo::cuda::compute_advantages(method, {}, options, nullptr);  // throws
  const DeviceRows r = device_rows(group, trajectory, state, next_state, success, valid, reward, cost, action);
  const int64_t n = static_cast<int64_t>(r.batch.n);
  double* dst = static_cast<double*>(checked(out, "out", kDLFloat, 64, 1, n, -1, r.device).data());
  void* scratch = nullptr;
  size_t scratch_bytes = 0;
  if (!workspace.is_none()) {
    const View w = checked(workspace, "workspace", kDLUInt, 8, 1, -1, -1, r.device);
    scratch = w.data();
    scratch_bytes = static_cast<size_t>(w.dim(0));
  }
  py::gil_scoped_release release;
  graphgpo::cuda::compute_advantages(method, r.batch, options, dst, stream_of(stream), scratch, scratch_bytes);
}

void next_state_distances(const py::object& group, const py::object& trajectory, const py::object& state,
                          const py::object& next_state, const py::object& success, const py::object& cost,
                          const py::object& action, const std::string& options_json, const py::object& out,
                          uintptr_t stream) {
  const graphgpo::Options options = graphgpo::parse_options_json(options_json);
  if (!graphgpo::cuda::compiled()) graphgpo::cuda::next_state_distances({}, options, nullptr);  // throws
  const py::object none = py::none();
  const DeviceRows r = device_rows(group, trajectory, state, next_state, success, none, none, cost, action);
  double* dst = static_cast<double*>(
      checked(out, "out", kDLFloat, 64, 1, static_cast<int64_t>(r.batch.n), -1, r.device).data());
  py::gil_scoped_release release;
  graphgpo::cuda::next_state_distances(r.batch, options, dst, stream_of(stream));
}

void fingerprint_int64(const py::object& values, const py::object& out, uintptr_t stream) {
  if (!graphgpo::cuda::compiled()) graphgpo::cuda::fingerprint_int64(nullptr, 1, nullptr);  // throws
  const View v = checked(values, "values", kDLInt, 64, 1, -1);
  const int64_t n = v.dim(0);
  const View o = view_of(out, "out");
  const View f = checked(out, "out", o.t->dtype.code == kDLUInt ? kDLUInt : kDLInt, 64, 2, n, 2,
                         v.t->device.device_id);
  py::gil_scoped_release release;
  graphgpo::cuda::fingerprint_int64(static_cast<const int64_t*>(v.data()), static_cast<size_t>(n),
                                    static_cast<graphgpo::Fingerprint*>(f.data()), stream_of(stream));
}

// Rows of a 2-D tensor of any dtype (hashed as raw bytes, like graphgpo.fingerprint on 2-D arrays), or
// with `lengths` their first lengths[i] elements (ragged token ids padded into one tensor).
void fingerprint_rows(const py::object& rows, const py::object& lengths, const py::object& out, uintptr_t stream) {
  if (!graphgpo::cuda::compiled()) graphgpo::cuda::fingerprint_rows(nullptr, 1, 0, 0, nullptr, 1, nullptr);  // throws
  const View r0 = view_of(rows, "rows");
  const View r = checked(rows, "rows", r0.t->dtype.code, r0.t->dtype.bits, 2, -1);
  if (r.t->dtype.bits % 8 != 0) type_error("rows: element size must be a whole number of bytes");
  const int64_t n = r.dim(0);
  const int device = r.t->device.device_id;
  const size_t element_bytes = r.t->dtype.bits / 8;
  const size_t row_bytes = static_cast<size_t>(r.dim(1)) * element_bytes;
  const int64_t* lens = optional_field<int64_t>(lengths, "lengths", kDLInt, 64, n, device);
  const View o = view_of(out, "out");
  const View f = checked(out, "out", o.t->dtype.code == kDLUInt ? kDLUInt : kDLInt, 64, 2, n, 2, device);
  py::gil_scoped_release release;
  graphgpo::cuda::fingerprint_rows(static_cast<const uint8_t*>(r.data()), static_cast<size_t>(n), row_bytes,
                                   row_bytes, lens, element_bytes, static_cast<graphgpo::Fingerprint*>(f.data()),
                                   stream_of(stream));
}

}  // namespace

void register_cuda(py::module_& m) {
  py::module_ c = m.def_submodule("_cuda", "CUDA entry points (see graphgpo.cuda and docs/cuda.md)");
  c.def("compiled", &graphgpo::cuda::compiled);
  c.def("device_count", &graphgpo::cuda::device_count);
  c.def(
      "workspace_size",
      [](const std::string& method, size_t n, const std::string& options_json) {
        return graphgpo::cuda::workspace_size(graphgpo::parse_method(method), n,
                                              graphgpo::parse_options_json(options_json));
      },
      py::arg("method"), py::arg("n"), py::arg("options_json"));
  c.def("advantages", &advantages, py::arg("method"), py::arg("group"), py::arg("trajectory"), py::arg("state"),
        py::arg("next_state"), py::arg("success"), py::arg("valid"), py::arg("reward"), py::arg("cost"),
        py::arg("action"), py::arg("options_json"), py::arg("out"), py::arg("workspace"), py::arg("stream"));
  c.def("next_state_distances", &next_state_distances, py::arg("group"), py::arg("trajectory"), py::arg("state"),
        py::arg("next_state"), py::arg("success"), py::arg("cost"), py::arg("action"), py::arg("options_json"),
        py::arg("out"), py::arg("stream"));
  c.def("fingerprint_int64", &fingerprint_int64, py::arg("values"), py::arg("out"), py::arg("stream"));
  c.def("fingerprint_rows", &fingerprint_rows, py::arg("rows"), py::arg("lengths"), py::arg("out"),
        py::arg("stream"));
}

}  // namespace graphgpo_bindings

#include "batch_args.hpp"

#include <string>

namespace graphgpo_bindings {
namespace {

template <typename T>
const T* required_data(const py::array_t<T, py::array::c_style>& a, size_t n, const char* name) {
  if (a.ndim() != 1 || static_cast<size_t>(a.shape(0)) != n)
    throw py::value_error(std::string(name) + " must have one value per row");
  return a.data();
}

template <typename T>
const T* optional_data(const std::optional<py::array_t<T, py::array::c_style>>& a, size_t n, const char* name) {
  if (!a) return nullptr;
  if (a->ndim() != 1 || static_cast<size_t>(a->shape(0)) != n)
    throw py::value_error(std::string(name) + " must have one value per row");
  return a->data();
}

const graphgpo::Fingerprint* fingerprints_view(const UInt64Array& a, size_t n, const char* name) {
  if (a.ndim() != 2 || a.shape(1) != 2 || static_cast<size_t>(a.shape(0)) != n)
    throw py::value_error(std::string(name) + " fingerprints must have shape (n, 2)");
  return reinterpret_cast<const graphgpo::Fingerprint*>(a.data());
}

}  // namespace

void attach_texts(BatchArgs& args, const py::object& state_text, const py::object& next_state_text) {
  if (state_text.is_none()) {
    if (!next_state_text.is_none()) throw py::value_error("next_state_text needs state_text");
    return;
  }
  const size_t n = args.group.ndim() == 1 ? static_cast<size_t>(args.group.shape(0)) : 0;
  args.state_text = text_column(state_text, n, "state");
  if (!next_state_text.is_none())
    args.next_state_text = text_column(next_state_text, n, "next_state", args.state_text->is_str ? 1 : 0);
}

graphgpo::BatchView make_view(const BatchArgs& a) {
  if (a.group.ndim() != 1) throw py::value_error("group must be one-dimensional");
  const size_t n = static_cast<size_t>(a.group.shape(0));
  graphgpo::BatchView b;
  b.n = n;
  b.group = a.group.data();
  b.trajectory = required_data<int64_t>(a.trajectory, n, "trajectory");
  b.state = fingerprints_view(a.state, n, "state");
  b.next_state = a.next_state ? fingerprints_view(*a.next_state, n, "next_state") : nullptr;
  b.success = required_data<uint8_t>(a.success, n, "success");
  b.valid = optional_data<uint8_t>(a.valid, n, "valid");
  b.reward = optional_data<double>(a.reward, n, "reward");
  b.cost = optional_data<double>(a.cost, n, "cost");
  b.action = optional_data<int64_t>(a.action, n, "action");
  if (a.state_text) b.state_text = a.state_text->refs.data();
  if (a.next_state_text) b.next_state_text = a.next_state_text->refs.data();
  b.task = optional_data<int64_t>(a.task, n, "task");
  return b;
}

}  // namespace graphgpo_bindings

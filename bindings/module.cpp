// graphgpo._core: the engine for Python. Arrays arrive already typed and contiguous (the Python layer
// prepares them), are read in place (zero-copy), and the GIL is released while the engine runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "graphgpo/error.hpp"
#include "graphgpo/estimators.hpp"
#include "graphgpo/fingerprint.hpp"
#include "graphgpo/graph_batch.hpp"
#include "graphgpo/memory.hpp"
#include "graphgpo/options.hpp"
#include "graphgpo/parallel.hpp"
#include "text.hpp"

namespace py = pybind11;
using graphgpo::Fingerprint;

void register_cuda_bindings(py::module_& m);    // cuda_bindings.cpp: graphgpo._core._cuda
void register_memory_bindings(py::module_& m);  // memory_bindings.cpp: graphgpo._core.GraphMemory

namespace {

using Int64Array = py::array_t<int64_t, py::array::c_style>;
using UInt8Array = py::array_t<uint8_t, py::array::c_style>;
using DoubleArray = py::array_t<double, py::array::c_style>;
using UInt64Array = py::array_t<uint64_t, py::array::c_style>;

py::array_t<uint64_t> new_fingerprints(size_t n) {
  return py::array_t<uint64_t>({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(2)});
}

Fingerprint* fingerprint_data(py::array_t<uint64_t>& a) { return reinterpret_cast<Fingerprint*>(a.mutable_data()); }

// Fingerprints of a sequence of str / bytes, in one parallel pass that reads each object and hashes its
// bytes (fresh strings are cold in cache: a separate serial pass to collect pointers cost a fifth of the
// hashing). The calling thread keeps the GIL throughout, so no Python code runs and no object can change
// or be freed while the engine's threads read them; they only read immutable fields (type flags, the
// data of ASCII str and of bytes), never call the C API. Anything else (non-ASCII str, whose UTF-8 may
// have to be created; unsupported types) is left to the calling thread afterwards, in row order, so the
// first offending row is the one reported. bytearray is refused: it is mutable.
py::array_t<uint64_t> fingerprint_buffers(const py::handle& sequence, int num_threads, bool as_rows, bool check_only) {
  PyObject* fast = PySequence_Fast(sequence.ptr(), "states must be a sequence");
  if (!fast) throw py::error_already_set();
  py::object owner = py::reinterpret_steal<py::object>(fast);
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(fast));
  PyObject** items = PySequence_Fast_ITEMS(fast);
  auto out = new_fingerprints(n);
  Fingerprint* dst = fingerprint_data(out);
  const auto domain = as_rows ? graphgpo::FingerprintDomain::ArrayRow : graphgpo::FingerprintDomain::Bytes;
  constexpr size_t kChunk = 512;
  const size_t num_chunks = (n + kChunk - 1) / kChunk;
  std::vector<std::vector<size_t>> deferred(num_chunks);  // rows for the calling thread, per chunk
  graphgpo::parallel_for(n, kChunk, graphgpo::resolve_num_threads(num_threads, num_chunks / 4),
                         [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      PyObject* item = items[i];
      const char* data = nullptr;
      size_t size = 0;
      if (PyUnicode_Check(item) && PyUnicode_IS_COMPACT_ASCII(item)) {
        data = reinterpret_cast<const char*>(reinterpret_cast<PyASCIIObject*>(item) + 1);
        size = static_cast<size_t>(PyUnicode_GET_LENGTH(item));
      } else if (PyBytes_Check(item)) {
        data = PyBytes_AS_STRING(item);
        size = static_cast<size_t>(PyBytes_GET_SIZE(item));
      } else {
        deferred[i / kChunk].push_back(i);
        continue;
      }
      dst[i] = check_only ? Fingerprint{0, 0} : graphgpo::fingerprint_bytes(data, size, domain);
    }
  });
  for (const auto& rows : deferred) {
    for (size_t i : rows) {
      PyObject* item = items[i];
      if (!PyUnicode_Check(item)) {
        throw py::type_error("state row " + std::to_string(i) + ": unsupported state type '" +
                             std::string(Py_TYPE(item)->tp_name) +
                             "' (expected str or bytes; pass key= to map states to str, bytes or int)");
      }
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(item, &size);
      if (!data) {
        PyErr_Clear();
        throw py::value_error("state row " + std::to_string(i) + ": str cannot be encoded as UTF-8");
      }
      dst[i] = check_only ? Fingerprint{0, 0} : graphgpo::fingerprint_bytes(data, static_cast<size_t>(size), domain);
    }
  }
  return out;
}

py::array_t<uint64_t> fingerprint_int64(const Int64Array& values, int num_threads) {
  if (values.ndim() != 1) throw py::value_error("integer states must be one-dimensional");
  const size_t n = static_cast<size_t>(values.shape(0));
  auto out = new_fingerprints(n);
  const int64_t* src = values.data();
  Fingerprint* dst = fingerprint_data(out);
  py::gil_scoped_release release;
  graphgpo::fingerprint_int64_batch(src, n, dst, num_threads);
  return out;
}

// Rows of a C-contiguous 2-D array of any dtype, viewed as raw bytes.
py::array_t<uint64_t> fingerprint_rows(const py::array& rows, int num_threads) {
  if (rows.ndim() != 2) throw py::value_error("array states must be two-dimensional (one row per state)");
  if (!(rows.flags() & py::array::c_style)) throw py::value_error("array states must be C-contiguous");
  const size_t n = static_cast<size_t>(rows.shape(0));
  const size_t row_bytes = static_cast<size_t>(rows.shape(1)) * static_cast<size_t>(rows.itemsize());
  auto out = new_fingerprints(n);
  const auto* src = static_cast<const uint8_t*>(rows.data());
  Fingerprint* dst = fingerprint_data(out);
  py::gil_scoped_release release;
  graphgpo::fingerprint_rows_batch(src, n, row_bytes, row_bytes, dst, num_threads);
  return out;
}

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

const Fingerprint* fingerprints_view(const UInt64Array& a, size_t n, const char* name) {
  if (a.ndim() != 2 || a.shape(1) != 2 || static_cast<size_t>(a.shape(0)) != n)
    throw py::value_error(std::string(name) + " fingerprints must have shape (n, 2)");
  return reinterpret_cast<const Fingerprint*>(a.data());
}

struct BatchArgs {
  Int64Array group, trajectory;
  UInt64Array state;
  std::optional<UInt64Array> next_state;
  UInt8Array success;
  std::optional<UInt8Array> valid;
  std::optional<DoubleArray> reward, cost;
  std::optional<Int64Array> action;
  std::optional<graphgpo_bindings::TextColumn> state_text, next_state_text;  // merge="similar"
  std::optional<Int64Array> task;  // graph memory
};

// Text columns (str or bytes, not mixed) when given; next_state's kind must be state's.
void attach_texts(BatchArgs& args, const py::object& state_text, const py::object& next_state_text) {
  if (state_text.is_none()) {
    if (!next_state_text.is_none()) throw py::value_error("next_state_text needs state_text");
    return;
  }
  const size_t n = args.group.ndim() == 1 ? static_cast<size_t>(args.group.shape(0)) : 0;
  args.state_text = graphgpo_bindings::text_column(state_text, n, "state");
  if (!next_state_text.is_none())
    args.next_state_text = graphgpo_bindings::text_column(next_state_text, n, "next_state", args.state_text->is_str ? 1 : 0);
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

py::array_t<double> advantages(const std::string& method, const BatchArgs& args, const std::string& options_json,
                               graphgpo::GraphMemory* memory) {
  const graphgpo::Method m = graphgpo::parse_method(method);
  const graphgpo::Options options = graphgpo::parse_options_json(options_json);
  const graphgpo::BatchView view = make_view(args);
  py::array_t<double> out(static_cast<py::ssize_t>(view.n));
  double* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    // A fresh array: nobody sees it on error. The memory serializes concurrent calls on itself.
    graphgpo::compute_advantages_into(m, view, options, dst, memory);
  }
  return out;
}

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// Graph inspection, read-only.
class PyGraphBatch {
 public:
  explicit PyGraphBatch(graphgpo::GraphBatch batch) : b_(std::move(batch)) {}

  size_t num_groups() const { return b_.graphs.size(); }
  py::array_t<int64_t> group_ids() const { return to_array(b_.layout.group_ids); }
  py::tuple group_sizes() const {
    std::vector<int64_t> nodes(b_.graphs.size()), edges(b_.graphs.size());
    for (size_t g = 0; g < b_.graphs.size(); ++g) {
      nodes[g] = b_.graphs[g].num_nodes();
      edges[g] = b_.graphs[g].num_edges();
    }
    return py::make_tuple(to_array(nodes), to_array(edges));
  }
  const graphgpo::GroupGraph& graph(size_t g) const {
    if (g >= b_.graphs.size())
      throw py::index_error("group index " + std::to_string(g) + " out of range (" +
                            std::to_string(b_.graphs.size()) + " groups)");
    return b_.graphs[g];
  }
  py::array_t<double> distances(size_t g) const {
    graph(g);
    return to_array(b_.distances[g]);
  }
  double unreachable_distance(size_t g) const {
    graph(g);
    return b_.unreachable_distance[g];
  }
  bool has_success(size_t g) const { return graph(g).has_success; }
  py::array_t<uint8_t> node_kinds(size_t g) const {
    const auto& gr = graph(g);
    std::vector<uint8_t> kinds(gr.node_kind.size());
    for (size_t v = 0; v < kinds.size(); ++v) kinds[v] = static_cast<uint8_t>(gr.node_kind[v]);
    return to_array(kinds);
  }
  py::array_t<uint64_t> node_states(size_t g) const {
    const auto& gr = graph(g);
    auto out = new_fingerprints(gr.node_state.size());
    std::copy(gr.node_state.begin(), gr.node_state.end(), fingerprint_data(out));
    return out;
  }
  // Edges in row order: (source node, target node, batch row).
  py::tuple edges(size_t g) const {
    const auto& gr = graph(g);
    std::vector<int64_t> src(gr.edge_src.begin(), gr.edge_src.end()), dst(gr.edge_dst.begin(), gr.edge_dst.end());
    return py::make_tuple(to_array(src), to_array(dst), to_array(gr.edge_row));
  }
  py::array_t<int64_t> node_origins(size_t g) const { return to_array(graph(g).node_origin); }
  int64_t num_exact_states(size_t g) const { return graph(g).num_exact_states; }
  py::tuple csr(size_t g, bool reverse) const {
    const auto& gr = graph(g);
    const auto& offsets = reverse ? gr.in_offsets : gr.out_offsets;
    const auto& order = reverse ? gr.in_edges : gr.out_edges;
    const auto& endpoint = reverse ? gr.edge_src : gr.edge_dst;
    std::vector<int64_t> other(order.size()), rows(order.size());
    for (size_t k = 0; k < order.size(); ++k) {
      other[k] = endpoint[static_cast<size_t>(order[k])];
      rows[k] = gr.edge_row[static_cast<size_t>(order[k])];
    }
    return py::make_tuple(to_array(offsets), to_array(other), to_array(rows));
  }

 private:
  graphgpo::GraphBatch b_;
};

PyGraphBatch build_graphs(const BatchArgs& args, const std::string& options_json) {
  const graphgpo::Options options = graphgpo::parse_options_json(options_json);
  const graphgpo::BatchView view = make_view(args);
  py::gil_scoped_release release;
  return PyGraphBatch(graphgpo::build_graph_batch(view, options));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "graphgpo C++ engine (see graphgpo/_core.pyi)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const graphgpo::IoError& e) {
      // OSError(errno, message, path): Python picks the subclass (FileNotFoundError, PermissionError, ...).
      const std::string message = std::string(std::strerror(e.error_number())) + " (" + e.action() + ")";
      PyObject* args = Py_BuildValue("(iss)", e.error_number(), message.c_str(), e.path().c_str());
      if (args) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
      }
    } catch (const graphgpo::Error& e) {
      if (e.code() == graphgpo::ErrorCode::TypeMismatch) {
        PyErr_SetString(PyExc_TypeError, e.what());
      } else if (e.code() == graphgpo::ErrorCode::InvalidArgument) {
        PyErr_SetString(PyExc_ValueError, e.what());
      } else {
        PyErr_SetString(PyExc_RuntimeError, e.what());
      }
    }
  });

  m.def("version", &graphgpo::version_string);
  m.def("abi_version", &graphgpo::abi_version);
  m.def("build_info_json", []() { return graphgpo::build_info_json(); });
  m.def("cuda_available", []() {
#ifdef GRAPHGPO_WITH_CUDA
    return true;
#else
    return false;
#endif
  });
  m.def("default_num_threads", &graphgpo::default_num_threads);
  m.def("check_options", [](const std::string& options_json) { graphgpo::parse_options_json(options_json); },
        py::arg("options_json"));

  m.def("fingerprint_buffers", &fingerprint_buffers, py::arg("states"), py::arg("num_threads") = 0,
        py::arg("as_rows") = false, py::arg("check_only") = false);
  m.def("fingerprint_int64", &fingerprint_int64, py::arg("values"), py::arg("num_threads") = 0);
  m.def("fingerprint_rows", &fingerprint_rows, py::arg("rows"), py::arg("num_threads") = 0);

  auto make_args = [](Int64Array group, Int64Array trajectory, UInt64Array state, std::optional<UInt64Array> next_state,
                      UInt8Array success, std::optional<UInt8Array> valid, std::optional<DoubleArray> reward,
                      std::optional<DoubleArray> cost, std::optional<Int64Array> action) {
    BatchArgs args{std::move(group), std::move(trajectory), std::move(state),  std::move(next_state),
                   std::move(success), std::move(valid), std::move(reward), std::move(cost), std::move(action)};
    return args;
  };
  m.def(
      "advantages",
      [make_args](const std::string& method, Int64Array group, Int64Array trajectory, UInt64Array state,
                  std::optional<UInt64Array> next_state, UInt8Array success, std::optional<UInt8Array> valid,
                  std::optional<DoubleArray> reward, std::optional<DoubleArray> cost, std::optional<Int64Array> action,
                  const std::string& options_json, const py::object& state_text, const py::object& next_state_text,
                  graphgpo::GraphMemory* memory, std::optional<Int64Array> task) {
        BatchArgs args = make_args(group, trajectory, state, next_state, success, valid, reward, cost, action);
        attach_texts(args, state_text, next_state_text);
        args.task = std::move(task);
        return advantages(method, args, options_json, memory);
      },
      py::arg("method"), py::arg("group"), py::arg("trajectory"), py::arg("state"), py::arg("next_state"),
      py::arg("success"), py::arg("valid"), py::arg("reward"), py::arg("cost"), py::arg("action"),
      py::arg("options_json"), py::arg("state_text") = py::none(), py::arg("next_state_text") = py::none(),
      py::arg("memory") = nullptr, py::arg("task") = std::nullopt);
  m.def(
      "build_graphs",
      [make_args](Int64Array group, Int64Array trajectory, UInt64Array state, std::optional<UInt64Array> next_state,
                  UInt8Array success, std::optional<DoubleArray> cost, std::optional<Int64Array> action,
                  const std::string& options_json, const py::object& state_text, const py::object& next_state_text) {
        BatchArgs args =
            make_args(group, trajectory, state, next_state, success, std::nullopt, std::nullopt, cost, action);
        attach_texts(args, state_text, next_state_text);
        return build_graphs(args, options_json);
      },
      py::arg("group"), py::arg("trajectory"), py::arg("state"), py::arg("next_state"), py::arg("success"),
      py::arg("cost"), py::arg("action"), py::arg("options_json"), py::arg("state_text") = py::none(),
      py::arg("next_state_text") = py::none());

  py::class_<PyGraphBatch>(m, "GraphBatch")
      .def_property_readonly("num_groups", &PyGraphBatch::num_groups)
      .def("group_ids", &PyGraphBatch::group_ids)
      .def("group_sizes", &PyGraphBatch::group_sizes)
      .def("distances", &PyGraphBatch::distances, py::arg("group"))
      .def("unreachable_distance", &PyGraphBatch::unreachable_distance, py::arg("group"))
      .def("has_success", &PyGraphBatch::has_success, py::arg("group"))
      .def("node_kinds", &PyGraphBatch::node_kinds, py::arg("group"))
      .def("node_states", &PyGraphBatch::node_states, py::arg("group"))
      .def("edges", &PyGraphBatch::edges, py::arg("group"))
      .def("csr", &PyGraphBatch::csr, py::arg("group"), py::arg("reverse") = false)
      .def("node_origins", &PyGraphBatch::node_origins, py::arg("group"))
      .def("num_exact_states", &PyGraphBatch::num_exact_states, py::arg("group"));
  register_memory_bindings(m);
  register_cuda_bindings(m);
  graphgpo_bindings::register_text_bindings(m);
}

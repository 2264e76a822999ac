// Graph inspection bindings: build_graphs and the read-only GraphBatch it returns.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "batch_args.hpp"
#include "bindings.hpp"
#include "graphgpo/graph_batch.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo_bindings {
namespace {

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

void register_graphs(py::module_& m) {
  m.def(
      "build_graphs",
      [](Int64Array group, Int64Array trajectory, UInt64Array state, std::optional<UInt64Array> next_state,
         UInt8Array success, std::optional<DoubleArray> cost, std::optional<Int64Array> action,
         const std::string& options_json, const py::object& state_text, const py::object& next_state_text) {
        BatchArgs args{std::move(group),   std::move(trajectory), std::move(state),
                       std::move(next_state), std::move(success), std::nullopt,
                       std::nullopt,       std::move(cost),       std::move(action)};
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
}

}  // namespace graphgpo_bindings

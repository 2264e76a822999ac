// graphgpo._core.GraphMemory: the engine's graph memory (cpp/include/graphgpo/memory.hpp) for Python. The
// Python class graphgpo.GraphMemory wraps it; calls take the memory's lock with the GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "bindings.hpp"
#include "graphgpo/memory.hpp"

namespace graphgpo_bindings {

using graphgpo::GraphMemory;

namespace {

int64_t bound_or_unbounded(const std::optional<int64_t>& bound) { return bound ? *bound : -1; }

py::object bound_or_none(int64_t bound) { return bound < 0 ? py::none() : py::object(py::int_(bound)); }

}  // namespace

void register_memory(py::module_& m) {
  py::class_<GraphMemory>(m, "GraphMemory")
      .def(py::init([](std::optional<int64_t> max_edges_per_task, std::optional<int64_t> max_edges,
                       std::optional<int64_t> max_age) {
             graphgpo::MemoryBounds bounds;
             bounds.max_edges_per_task = bound_or_unbounded(max_edges_per_task);
             bounds.max_edges = bound_or_unbounded(max_edges);
             bounds.max_age = bound_or_unbounded(max_age);
             return std::make_unique<GraphMemory>(bounds);
           }),
           py::arg("max_edges_per_task") = py::none(), py::arg("max_edges") = py::none(),
           py::arg("max_age") = py::none())
      .def_property_readonly("max_edges_per_task",
                             [](const GraphMemory& g) { return bound_or_none(g.bounds().max_edges_per_task); })
      .def_property_readonly("max_edges", [](const GraphMemory& g) { return bound_or_none(g.bounds().max_edges); })
      .def_property_readonly("max_age", [](const GraphMemory& g) { return bound_or_none(g.bounds().max_age); })
      .def("stats",
           [](const GraphMemory& g) {
             graphgpo::MemoryStats s;
             {
               py::gil_scoped_release release;
               s = g.stats();
             }
             py::dict out;
             out["tasks"] = s.tasks;
             out["edges"] = s.edges;
             out["bytes"] = s.bytes;
             out["calls"] = s.calls;
             return out;
           })
      .def("save",
           [](const GraphMemory& g, const std::string& path) {
             py::gil_scoped_release release;
             g.save(path);
           },
           py::arg("path"))
      .def_static("load",
                  [](const std::string& path) {
                    py::gil_scoped_release release;
                    return GraphMemory::load(path);
                  },
                  py::arg("path"))
      .def("to_bytes",
           [](const GraphMemory& g) {
             std::string bytes;
             {
               py::gil_scoped_release release;
               bytes = g.to_bytes();
             }
             return py::bytes(bytes);
           })
      .def_static("from_bytes",
                  [](const py::bytes& data) {
                    std::string bytes = data;
                    py::gil_scoped_release release;
                    return GraphMemory::from_bytes(bytes);
                  },
                  py::arg("data"))
      .def("_edges",
           [](const GraphMemory& g) {
             // Testing and inspection: {task: [(src lo, src hi, dst lo, dst hi, to SUCCESS, last seen, cost,
             // insertion), ...]}, each task's edges least recently seen first.
             py::dict out;
             for (int64_t key : g.task_keys()) {
               const graphgpo::StoredTaskView view = g.task_view(key);
               py::list edges;
               for (size_t k = 0; k < view.num_edges; ++k) {
                 const graphgpo::StoredEdge& e = view.edges[k];
                 const bool success = e.dst == graphgpo::kStoredSuccess;
                 const graphgpo::Fingerprint src = view.nodes[e.src];
                 const graphgpo::Fingerprint dst = success ? graphgpo::Fingerprint{0, 0} : view.nodes[e.dst];
                 edges.append(py::make_tuple(src.lo, src.hi, dst.lo, dst.hi, success, e.last_seen, e.cost,
                                             e.insertion));
               }
               out[py::int_(key)] = edges;
             }
             return out;
           })
      .def("_set_next_insertion", &GraphMemory::set_next_insertion_for_testing, py::arg("next"),
           "Testing only: the next insertion number (to exercise renumbering near 2**32).");
  m.def(
      "check_memory_options",
      [](const std::string& method, const std::string& options_json) {
        graphgpo::check_memory_options(graphgpo::parse_method(method), graphgpo::parse_options_json(options_json));
      },
      py::arg("method"), py::arg("options_json"));
}

}  // namespace graphgpo_bindings

// Estimator bindings: the estimator registry, the option schema, option checking and advantages of a batch.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "batch_args.hpp"
#include "bindings.hpp"
#include "graphgpo/estimator_registry.hpp"
#include "graphgpo/estimators.hpp"
#include "graphgpo/memory.hpp"
#include "graphgpo/option_schema.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo_bindings {
namespace {

// One advantage per row; with `with_episode` also each row's outcome A_E (episode_out, see estimators.hpp),
// returned as a pair from the same engine pass.
py::object advantages(const std::string& method, const BatchArgs& args, const std::string& options_json,
                      graphgpo::GraphMemory* memory, bool with_episode) {
  const graphgpo::Method m = graphgpo::parse_method(method);
  const graphgpo::Options options = graphgpo::parse_options_json(options_json);
  const graphgpo::BatchView view = make_view(args);
  py::array_t<double> out(static_cast<py::ssize_t>(view.n));
  py::array_t<double> episode(static_cast<py::ssize_t>(with_episode ? view.n : 0));
  double* dst = out.mutable_data();
  double* episode_dst = with_episode ? episode.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    // Fresh arrays: nobody sees them on error. The memory serializes concurrent calls on itself.
    graphgpo::compute_advantages_into(m, view, options, dst, memory, episode_dst);
  }
  if (with_episode) return py::make_tuple(out, episode);
  return std::move(out);
}

}  // namespace

void register_estimators(py::module_& m) {
  m.def("option_schema", []() { return graphgpo::option_schema_json(); });
  m.def("estimator_registry", []() { return graphgpo::estimator_registry_json(); });
  m.def("check_options", [](const std::string& options_json) { graphgpo::parse_options_json(options_json); },
        py::arg("options_json"));
  m.def(
      "advantages",
      [](const std::string& method, Int64Array group, Int64Array trajectory, UInt64Array state,
         std::optional<UInt64Array> next_state, UInt8Array success, std::optional<UInt8Array> valid,
         std::optional<DoubleArray> reward, std::optional<DoubleArray> cost, std::optional<Int64Array> action,
         const std::string& options_json, const py::object& state_text, const py::object& next_state_text,
         graphgpo::GraphMemory* memory, std::optional<Int64Array> task, bool with_episode) {
        BatchArgs args{std::move(group),   std::move(trajectory), std::move(state),
                       std::move(next_state), std::move(success), std::move(valid),
                       std::move(reward),  std::move(cost),       std::move(action)};
        attach_texts(args, state_text, next_state_text);
        args.task = std::move(task);
        return advantages(method, args, options_json, memory, with_episode);
      },
      py::arg("method"), py::arg("group"), py::arg("trajectory"), py::arg("state"), py::arg("next_state"),
      py::arg("success"), py::arg("valid"), py::arg("reward"), py::arg("cost"), py::arg("action"),
      py::arg("options_json"), py::arg("state_text") = py::none(), py::arg("next_state_text") = py::none(),
      py::arg("memory") = nullptr, py::arg("task") = std::nullopt, py::arg("with_episode") = false);
}

}  // namespace graphgpo_bindings

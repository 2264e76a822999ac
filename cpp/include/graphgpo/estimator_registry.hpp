// The estimator registry: one entry per estimator (cpp/src/estimator_registry.cpp) with its name, a one-line
// summary, the option scopes it reads (option_schema.hpp) and its capabilities. Everything that lists
// methods derives from it: parse_method and its message, the option schema's "used_by", the C ABI's
// graphgpo_estimators(), graphgpo.METHODS in Python, the TRL config's choices, and the CUDA path's refusal
// of a method it does not implement.
//
// Adding an estimator: a Method value and a registry entry (here and in estimator_registry.cpp), its step
// returns in estimators.cpp (step_returns()), and its plain-Python reference (graphgpo.testing.reference).
// See docs/design.md, "How to add an estimator".
#pragma once

#include <string>
#include <vector>

namespace graphgpo {
inline namespace v0 {

enum class Method { Grpo, Gigpo, GraphGpo, ProGpo };

struct EstimatorSpec {
  Method method;
  const char* name;
  const char* summary;              // one line, no trailing period
  std::vector<const char*> scopes;  // option scopes it reads (option_schema.hpp): "episode", "step", ...
  bool builds_graph;                // has a step term: builds each group's state graph
  bool needs_reverse_csr;           // walks the graph backwards (distances to SUCCESS)
  bool merges_graph_nodes;          // merge="similar" merges graph nodes (step groups stay exact); otherwise it
                                    // merges only the start states that form step groups
  bool supports_cuda;               // the CUDA pipeline (cpp/src/cuda/pipeline.cuh) implements it
  bool supports_memory;             // works with a GraphMemory (SPEC "Graph memory across calls")

  bool reads(const std::string& scope) const;
};

// Every estimator, in documentation order.
const std::vector<EstimatorSpec>& estimator_registry();

// The entry of `method`.
const EstimatorSpec& estimator(Method method);

// The method named `name`; throws Error(InvalidArgument) "unknown method 'x': expected 'grpo', 'gigpo', ...
// or 'progpo'" (every registered name) otherwise.
Method parse_method(const std::string& name);
const char* method_name(Method method);

// The registry as JSON: {"estimators": [{"name", "summary", "scopes", "builds_graph", "needs_reverse_csr",
// "merges_graph_nodes", "supports_cuda", "supports_memory"}, ...]}.
const std::string& estimator_registry_json();

}  // namespace v0
}  // namespace graphgpo

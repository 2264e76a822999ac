// THE estimator registry (see estimator_registry.hpp): to add an estimator, add a Method value and one entry
// below, then its step returns in estimators.cpp.
#include "graphgpo/estimator_registry.hpp"

#include <sstream>

#include "graphgpo/error.hpp"

namespace graphgpo {
inline namespace v0 {

const std::vector<EstimatorSpec>& estimator_registry() {
  // Fields: method, name, summary, option scopes, builds_graph, needs_reverse_csr, merges_graph_nodes,
  // supports_cuda, supports_memory.
  static const std::vector<EstimatorSpec> registry = {
      {Method::Grpo, "grpo", "the episode advantage A_E of every row", {"episode"},
       /*builds_graph=*/false, /*needs_reverse_csr=*/false, /*merges_graph_nodes=*/false,
       /*supports_cuda=*/true, /*supports_memory=*/false},
      {Method::Gigpo, "gigpo",
       "A_E plus the discounted remaining reward, normalized among rows that start from the same state",
       {"episode", "step", "discounted_returns", "states"}, /*builds_graph=*/true, /*needs_reverse_csr=*/false,
       /*merges_graph_nodes=*/false, /*supports_cuda=*/true, /*supports_memory=*/false},
      {Method::GraphGpo, "graphgpo",
       "A_E plus success_reward * omega ** d(next_state) on the group's state graph, normalized among rows that "
       "start from the same state",
       {"episode", "step", "distance_returns", "distance", "states"}, /*builds_graph=*/true,
       /*needs_reverse_csr=*/true, /*merges_graph_nodes=*/true, /*supports_cuda=*/true, /*supports_memory=*/true},
      {Method::ProGpo, "progpo",
       "A_E plus each step's progress toward SUCCESS on the group's graph, scaled to outrank A_E (SPEC \"ProGPO\")",
       {"episode", "step", "distance", "states"}, /*builds_graph=*/true, /*needs_reverse_csr=*/true,
       /*merges_graph_nodes=*/true, /*supports_cuda=*/false, /*supports_memory=*/true},
  };
  return registry;
}

bool EstimatorSpec::reads(const std::string& scope) const {
  for (const char* s : scopes)
    if (scope == s) return true;
  return false;
}

const EstimatorSpec& estimator(Method method) {
  for (const EstimatorSpec& e : estimator_registry())
    if (e.method == method) return e;
  fail("estimator: unregistered method " + std::to_string(static_cast<int>(method)));
}

Method parse_method(const std::string& name) {
  const auto& registry = estimator_registry();
  std::string expected;
  for (size_t k = 0; k < registry.size(); ++k) {
    if (name == registry[k].name) return registry[k].method;
    expected += (k == 0 ? "'" : k + 1 == registry.size() ? " or '" : ", '") + std::string(registry[k].name) + "'";
  }
  fail("unknown method '" + name + "': expected " + expected);
}

const char* method_name(Method method) { return estimator(method).name; }

namespace {

std::string json_string(const char* s) {
  std::string out = "\"";
  for (const char* c = s; *c; ++c) {
    if (*c == '"' || *c == '\\') out += '\\';
    out += *c;
  }
  return out + "\"";
}

const char* json_bool(bool b) { return b ? "true" : "false"; }

}  // namespace

const std::string& estimator_registry_json() {
  static const std::string json = [] {
    std::ostringstream out;
    out << "{\"estimators\": [";
    const char* separator = "";
    for (const EstimatorSpec& e : estimator_registry()) {
      out << separator << "{\"name\": " << json_string(e.name) << ", \"summary\": " << json_string(e.summary)
          << ", \"scopes\": [";
      for (size_t k = 0; k < e.scopes.size(); ++k) out << (k ? ", " : "") << json_string(e.scopes[k]);
      out << "], \"builds_graph\": " << json_bool(e.builds_graph)
          << ", \"needs_reverse_csr\": " << json_bool(e.needs_reverse_csr)
          << ", \"merges_graph_nodes\": " << json_bool(e.merges_graph_nodes)
          << ", \"supports_cuda\": " << json_bool(e.supports_cuda)
          << ", \"supports_memory\": " << json_bool(e.supports_memory) << "}";
      separator = ", ";
    }
    out << "]}";
    return out.str();
  }();
  return json;
}

}  // namespace v0
}  // namespace graphgpo

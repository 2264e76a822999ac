// THE option table (see option_schema.hpp): to add an option, add a field to struct Options and one entry
// below. Docs are one line each; they become the Python docstring and the TRL config's help text.
#include <cmath>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "graphgpo/estimator_registry.hpp"
#include "graphgpo/json_reader.hpp"
#include "graphgpo/option_schema.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

OptionRange open_interval(double lo, double hi) { return {lo, hi, true, true}; }
OptionRange closed_interval(double lo, double hi) { return {lo, hi, false, false}; }
OptionRange at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), false, false}; }
OptionRange any_finite() { return {}; }

OptionSpec entry(const char* name, OptionType type, const char* scope, const char* doc) {
  OptionSpec s;
  s.name = name;
  s.type = type;
  s.scope = scope;
  s.doc = doc;
  return s;
}

// Builders: one per type, binding the entry to its field of Options.
OptionSpec number(const char* name, double Options::*field, double default_value, OptionRange range,
                  const char* scope, const char* doc) {
  OptionSpec s = entry(name, OptionType::Number, scope, doc);
  s.default_value = default_value;
  s.range = range;
  s.set_value = [field](Options& o, double v) { o.*field = v; };
  s.get_value = [field](const Options& o) { return o.*field; };
  return s;
}

OptionSpec integer(const char* name, int Options::*field, int default_value, OptionRange range, const char* scope,
                   const char* doc, bool null_is_default = false) {
  OptionSpec s = entry(name, OptionType::Integer, scope, doc);
  s.default_value = default_value;
  s.range = range;
  s.null_is_default = null_is_default;
  s.set_value = [field](Options& o, double v) { o.*field = static_cast<int>(v); };
  s.get_value = [field](const Options& o) { return static_cast<double>(o.*field); };
  return s;
}

OptionSpec boolean(const char* name, bool Options::*field, bool default_value, const char* scope, const char* doc) {
  OptionSpec s = entry(name, OptionType::Boolean, scope, doc);
  s.default_value = default_value ? 1.0 : 0.0;
  s.set_value = [field](Options& o, double v) { o.*field = v != 0.0; };
  s.get_value = [field](const Options& o) { return o.*field ? 1.0 : 0.0; };
  return s;
}

// The first value listed is the default.
template <typename Enum>
OptionSpec choice(const char* name, Enum Options::*field, std::initializer_list<std::pair<const char*, Enum>> values,
                  const char* scope, const char* doc) {
  OptionSpec s = entry(name, OptionType::Choice, scope, doc);
  std::vector<Enum> enums;
  for (const auto& [text, value] : values) {
    s.choices.push_back(text);
    enums.push_back(value);
  }
  s.set_choice = [field, enums](Options& o, size_t k) { o.*field = enums[k]; };
  s.get_choice = [field, enums](const Options& o) {
    for (size_t k = 0; k < enums.size(); ++k)
      if (enums[k] == o.*field) return k;
    return enums.size();  // not a listed value: validate_options refuses it
  };
  return s;
}

std::vector<OptionSpec> make_table() {
  return {
      number("omega", &Options::omega, 0.1, open_interval(0.0, 1.0), "distance_returns",
             "distance discount: a step returns success_reward * omega ** d(next_state) "
             "(official: 0.1 ALFWorld, 0.2 WebShop, 0.8 Sokoban)"),
      number("gamma", &Options::gamma, 0.95, closed_interval(0.0, 1.0), "discounted_returns",
             "reward discount of the step returns (discounted remaining rewards)"),
      number("success_reward", &Options::success_reward, 10.0, any_finite(), "episode",
             "episode reward of a successful trajectory without rewards, and scale of distance step returns"),
      number("invalid_penalty", &Options::invalid_penalty, 0.1, any_finite(), "episode",
             "subtracted from the episode score and the step return of a row whose action was invalid"),
      number("step_weight", &Options::step_weight, 1.0, any_finite(), "step", "weight of the step advantage A_S"),
      number("episode_weight", &Options::episode_weight, 1.0, any_finite(), "step",
             "weight of the episode advantage A_E next to the step advantage"),
      choice("norm", &Options::norm, {{"mean_std", Norm::MeanStd}, {"mean", Norm::Mean}}, "episode",
             "normalization: (x - mean) / (std + eps) with the unbiased std, or x - mean"),
      number("eps", &Options::eps, 1e-6, at_least(0.0), "episode", "epsilon of the mean_std normalization"),
      choice("convention", &Options::convention,
             {{"reference", Convention::Reference}, {"paper", Convention::Paper}}, "distance_returns",
             "exponent of omega: d(next_state) (official code) or d(next_state) + cost (paper, Eq. 4)"),
      choice("episode_stats", &Options::episode_stats,
             {{"per_step", EpisodeStats::PerStep}, {"per_trajectory", EpisodeStats::PerTrajectory}}, "episode",
             "normalize episode scores over the group's rows (verl-agent) or over one score per trajectory"),
      boolean("normalize_distance", &Options::normalize_distance, false, "distance_returns",
              "use omega ** (d(next_state) - d(state) + 1) as the step return"),
      choice("distance", &Options::distance, {{"shortest", DistanceKind::Shortest}, {"expected", DistanceKind::Expected}},
             "distance",
             "shortest-path distance, or expected distance over observed transition frequencies (needs action)"),
      choice("merge", &Options::merge, {{"exact", Merge::Exact}, {"similar", Merge::Similar}}, "states",
             "state identity: equal states, or text states whose difflib ratio reaches similarity (SPEC \"Merging "
             "similar states\")"),
      number("similarity", &Options::similarity, 0.95, open_interval(0.0, 1.0), "states",
             "with merge=\"similar\": the difflib.SequenceMatcher ratio at which a state joins a representative"),
      integer("num_threads", &Options::num_threads, 0, closed_interval(0, 4096), "engine",
              "engine threads; 0 or null: GRAPHGPO_NUM_THREADS or all cores (results never depend on it)",
              /*null_is_default=*/true),
  };
}

// The estimators that read a scope (estimator registry).
std::vector<const char*> estimators_reading(const std::string& scope) {
  std::vector<const char*> out;
  for (const EstimatorSpec& e : estimator_registry())
    if (e.reads(scope)) out.push_back(e.name);
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string json_number(double x, OptionType type) {
  if (type == OptionType::Integer) return std::to_string(static_cast<long long>(x));
  return json::number_text(x);  // locale-independent, round-trips
}

std::string schema_json() {
  std::ostringstream out;
  out << "{\"options\": [";
  const char* separator = "";
  for (const OptionSpec& s : option_table()) {
    static const char* const type_names[] = {"number", "integer", "boolean", "choice"};
    out << separator << "{\"name\": " << json_string(s.name)
        << ", \"type\": \"" << type_names[static_cast<int>(s.type)] << "\", \"default\": ";
    separator = ", ";
    if (s.type == OptionType::Choice) {
      out << json_string(s.choices[s.default_choice]) << ", \"choices\": [";
      for (size_t k = 0; k < s.choices.size(); ++k) out << (k ? ", " : "") << json_string(s.choices[k]);
      out << "]";
    } else if (s.type == OptionType::Boolean) {
      out << (s.default_value != 0.0 ? "true" : "false");
    } else {
      out << json_number(s.default_value, s.type);
      if (std::isfinite(s.range.min))
        out << ", \"min\": " << json_number(s.range.min, s.type) << ", \"min_open\": " << (s.range.min_open ? "true" : "false");
      if (std::isfinite(s.range.max))
        out << ", \"max\": " << json_number(s.range.max, s.type) << ", \"max_open\": " << (s.range.max_open ? "true" : "false");
    }
    out << ", \"null_is_default\": " << (s.null_is_default ? "true" : "false") << ", \"scope\": " << json_string(s.scope)
        << ", \"used_by\": [";
    const auto readers = estimators_reading(s.scope);
    for (size_t k = 0; k < readers.size(); ++k) out << (k ? ", " : "") << json_string(readers[k]);
    out << "], \"doc\": " << json_string(s.doc) << "}";
  }
  out << "]}";
  return out.str();
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = make_table();
  return table;
}

const OptionSpec* find_option(const std::string& name) {
  for (const OptionSpec& s : option_table())
    if (name == s.name) return &s;
  return nullptr;
}

const std::string& option_names() {
  static const std::string names = [] {
    std::string out;
    for (const OptionSpec& s : option_table()) out += (out.empty() ? "" : ", ") + std::string(s.name);
    return out;
  }();
  return names;
}

const std::string& option_schema_json() {
  static const std::string json = schema_json();
  return json;
}

Options::Options() {
  for (const OptionSpec& s : option_table()) {
    if (s.type == OptionType::Choice) {
      s.set_choice(*this, s.default_choice);
    } else {
      s.set_value(*this, s.default_value);
    }
  }
}

}  // namespace v0
}  // namespace graphgpo

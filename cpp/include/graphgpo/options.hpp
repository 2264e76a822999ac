// Estimator options (SPEC names and defaults) and their one parser: a flat JSON object. Both the C ABI and
// the Python module pass options as JSON, so validation lives in one place and new options never change a
// function signature.
#pragma once

#include <functional>
#include <string>

namespace graphgpo {
inline namespace v0 {

enum class Method { Grpo, Gigpo, GraphGpo, ProGpo };
enum class Norm { MeanStd, Mean };
enum class Convention { Reference, Paper };
enum class EpisodeStats { PerStep, PerTrajectory };
enum class DistanceKind { Shortest, Expected };
enum class Merge { Exact, Similar };

struct Options {
  double omega = 0.1;            // (0, 1)
  double gamma = 0.95;           // [0, 1]
  double success_reward = 10.0;  // finite
  double invalid_penalty = 0.1;  // finite
  double step_weight = 1.0;      // finite
  double episode_weight = 1.0;   // finite
  double eps = 1e-6;             // finite, >= 0
  Norm norm = Norm::MeanStd;
  Convention convention = Convention::Reference;
  EpisodeStats episode_stats = EpisodeStats::PerStep;
  bool normalize_distance = false;
  DistanceKind distance = DistanceKind::Shortest;
  Merge merge = Merge::Exact;  // SPEC "Merging similar states": "similar" needs text states
  double similarity = 0.95;    // (0, 1): difflib ratio at which a state joins a representative
  int num_threads = 0;  // 0 = default (GRAPHGPO_NUM_THREADS or all cores); results never depend on it
};

// One value of a flat JSON object (options are scalars only).
struct JsonScalar {
  enum Kind { Number, String, Bool, Null } kind = Null;
  double number = 0;
  std::string text;
  bool boolean = false;
};

// Reads a flat JSON object ("" and "null" are empty objects) and calls on_member for each member in order;
// a syntax error throws Error(InvalidArgument). The one reader of every options object (estimators, memory).
void read_flat_json(const std::string& json,
                    const std::function<void(const std::string& key, const JsonScalar& value)>& on_member);

// Parse "grpo" | "gigpo" | "graphgpo" | "progpo"; throws Error(InvalidArgument) otherwise.
Method parse_method(const std::string& name);
const char* method_name(Method method);

// Parse a JSON object of options ("" or "null" or "{}" give the defaults). Unknown keys, wrong types and
// values outside their allowed set throw Error(InvalidArgument) naming the option.
Options parse_options_json(const std::string& json);

// Checks ranges (omega in (0,1), gamma in [0,1], finiteness); parse_options_json calls it.
void validate_options(const Options& options);

}  // namespace v0
}  // namespace graphgpo

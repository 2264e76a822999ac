// Estimator options (SPEC names) and their one parser: a flat JSON object. Both the C ABI and the Python
// module pass options as JSON, so validation lives in one place and new options never change a function
// signature. Names, defaults, allowed values and docs: the option table (option_schema.hpp).
#pragma once

#include <functional>
#include <string>

#include "graphgpo/estimator_registry.hpp"  // Method, parse_method, method_name

namespace graphgpo {
inline namespace v0 {

enum class Norm { MeanStd, Mean };
enum class Convention { Reference, Paper };
enum class EpisodeStats { PerStep, PerTrajectory };
enum class DistanceKind { Shortest, Expected };
enum class Merge { Exact, Similar };

// The options of one call. Defaults, allowed values and docs are in the option table (option_schema.hpp,
// cpp/src/option_table.cpp); a default-constructed Options holds the table's defaults.
struct Options {
  double omega{};
  double gamma{};
  double success_reward{};
  double invalid_penalty{};
  double step_weight{};
  double episode_weight{};
  double eps{};
  Norm norm{};
  Convention convention{};
  EpisodeStats episode_stats{};
  bool normalize_distance{};
  DistanceKind distance{};
  Merge merge{};       // SPEC "Merging similar states": "similar" needs text states
  double similarity{};  // difflib ratio at which a state joins a representative
  int num_threads{};  // 0 = default (GRAPHGPO_NUM_THREADS or all cores); results never depend on it

  Options();  // the table's defaults
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

// Parse a JSON object of options ("" or "null" or "{}" give the defaults). Unknown keys, wrong types and
// values outside their allowed set throw Error(InvalidArgument) naming the option.
Options parse_options_json(const std::string& json);

// Checks every option against the option table (finiteness, ranges, listed choices); parse_options_json
// calls it, and so does every engine entry point that takes an Options built in C++.
void validate_options(const Options& options);

}  // namespace v0
}  // namespace graphgpo

// The option table: the one source of every estimator option's name, type, default, allowed values, one-line
// doc and scope (which part of the computation reads it). Everything else derives from it: Options' defaults,
// the option parser's checks and messages, validate_options, graphgpo.DEFAULT_OPTIONS and the advantages()
// docstring in Python (through option_schema_json), the TRL config's fields and the C ABI's
// graphgpo_option_schema().
//
// Adding an option: a field in struct Options (options.hpp) and one entry in option_table()
// (cpp/src/option_table.cpp). Nothing else in C++ or Python lists option names.
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

enum class OptionType {
  Number,   // a finite float64 (JSON true/false are read as 1/0, as Python bools are ints)
  Integer,  // a whole number within its range
  Boolean,  // JSON true or false only
  Choice,   // one of a fixed set of strings
};

// Allowed interval of a Number or Integer option; open ends exclude the bound. Infinite bounds are "none":
// every number must be finite anyway.
struct OptionRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;
  bool max_open = false;
  bool contains(double x) const {
    return (min_open ? x > min : x >= min) && (max_open ? x < max : x <= max);
  }
};

// What reads an option. Estimators declare the scopes they read (estimator_registry.hpp); an option's
// "used_by" list in the schema is derived from that.
//   episode:  the episode advantage A_E and the normalization every estimator applies
//   step:     the mix of A_E and the step advantage A_S (every estimator with step groups)
//   discounted_returns: discounted-return step returns (gigpo)
//   distance_returns:   step returns from omega ** graph distance (graphgpo)
//   distance: how graph distances to SUCCESS are computed (graphgpo, progpo)
//   states:   which rows' states are one node (every estimator with step groups)
//   engine:   how the engine runs, never what it computes (not an estimator option)
struct OptionSpec {
  const char* name = "";
  OptionType type = OptionType::Number;
  const char* scope = "";
  const char* doc = "";              // one line, no trailing period
  double default_value = 0.0;        // Number, Integer, Boolean (0/1)
  std::vector<const char*> choices;  // Choice: the allowed strings; choices[default_choice] is the default
  size_t default_choice = 0;
  OptionRange range;                 // Number, Integer
  bool null_is_default = false;      // JSON null stands for the default (num_threads)

  // Storage in Options. Number/Integer/Boolean go through set_value/get_value (Boolean as 0/1), Choice
  // through set_choice/get_choice (an index into choices).
  std::function<void(Options&, double)> set_value;
  std::function<double(const Options&)> get_value;
  std::function<void(Options&, size_t)> set_choice;
  std::function<size_t(const Options&)> get_choice;
};

// Every option, in documentation order.
const std::vector<OptionSpec>& option_table();

// The entry named `name`, or nullptr.
const OptionSpec* find_option(const std::string& name);

// Names of every option, comma-separated (for "unknown option" messages).
const std::string& option_names();

// The table as JSON: {"options": [{"name", "type" ("number"|"integer"|"boolean"|"choice"), "default",
// "choices" (choice only), "min"/"max"/"min_open"/"max_open" (bounded numbers only), "null_is_default",
// "scope", "used_by" (estimator names), "doc"}, ...]}. Defaults are written with 17 significant digits, so
// they read back bit-exact.
const std::string& option_schema_json();

}  // namespace v0
}  // namespace graphgpo

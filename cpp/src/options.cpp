#include "graphgpo/options.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "graphgpo/error.hpp"
#include "graphgpo/json_reader.hpp"
#include "graphgpo/option_schema.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Options from JSON members, through the option table (option_schema.hpp).

std::string quoted_choices(const OptionSpec& spec) {
  std::string out;
  for (const char* c : spec.choices) out += (out.empty() ? "'" : ", '") + std::string(c) + "'";
  return out;
}

std::string format_bound(double x) {
  return json::number_text(x);  // not %g: locale-independent
}

std::string interval_text(const OptionRange& r) {
  return (r.min_open ? "(" : "[") + format_bound(r.min) + ", " + format_bound(r.max) + (r.max_open ? ")" : "]");
}

double member_number(const OptionSpec& spec, const JsonScalar& v) {
  if (v.kind == JsonScalar::Bool) return v.boolean ? 1.0 : 0.0;  // Python bools are ints
  if (v.kind != JsonScalar::Number) fail("option '" + std::string(spec.name) + "' must be a number");
  return v.number;
}

bool is_whole(double x) { return x == std::floor(x); }

void set_member(Options& o, const std::string& key, const JsonScalar& v) {
  const OptionSpec* spec = find_option(key);
  if (!spec) fail("unknown option '" + key + "': expected one of " + option_names());
  const std::string name = "option '" + key + "'";
  if (v.kind == JsonScalar::Null && spec->null_is_default) {
    spec->set_value(o, spec->default_value);
    return;
  }
  switch (spec->type) {
    case OptionType::Number:
      spec->set_value(o, member_number(*spec, v));
      return;
    case OptionType::Integer: {
      const double x = member_number(*spec, v);
      if (!(spec->range.contains(x) && is_whole(x)))
        fail(name + " must be an integer in " + interval_text(spec->range));
      spec->set_value(o, x);
      return;
    }
    case OptionType::Boolean:
      if (v.kind != JsonScalar::Bool) fail(name + " must be true or false");
      spec->set_value(o, v.boolean ? 1.0 : 0.0);
      return;
    case OptionType::Choice: {
      const std::string allowed = quoted_choices(*spec);
      if (v.kind != JsonScalar::String) fail(name + " must be one of " + allowed);
      for (size_t k = 0; k < spec->choices.size(); ++k) {
        if (v.text == spec->choices[k]) {
          spec->set_choice(o, k);
          return;
        }
      }
      fail(name + " must be one of " + allowed + ", got '" + v.text + "'");
    }
  }
}

// The range check of a number, worded by which bounds it has.
void check_range(const OptionSpec& spec, double value) {
  const OptionRange& r = spec.range;
  if (r.contains(value)) return;
  const std::string name = "option '" + std::string(spec.name) + "'";
  const bool has_min = std::isfinite(r.min), has_max = std::isfinite(r.max);
  if (has_min && has_max) fail(name + " must lie in " + interval_text(r) + ", got " + std::to_string(value));
  if (has_min) fail(name + " must be " + (r.min_open ? "> " : ">= ") + format_bound(r.min));
  fail(name + " must be " + (r.max_open ? "< " : "<= ") + format_bound(r.max));
}

}  // namespace

void read_flat_json(const std::string& json,
                    const std::function<void(const std::string& key, const JsonScalar& value)>& on_member) {
  json::read_flat_object(json, on_member);
}

void validate_options(const Options& o) {
  for (const OptionSpec& spec : option_table()) {
    const std::string name = "option '" + std::string(spec.name) + "'";
    switch (spec.type) {
      case OptionType::Number: {
        const double value = spec.get_value(o);
        if (!std::isfinite(value)) fail(name + " must be finite");
        check_range(spec, value);
        break;
      }
      case OptionType::Integer:
        if (!spec.range.contains(spec.get_value(o)))
          fail(name + " must be an integer in " + interval_text(spec.range));
        break;
      case OptionType::Boolean:
        break;
      case OptionType::Choice:
        if (spec.get_choice(o) >= spec.choices.size()) fail(name + " holds a value outside " + quoted_choices(spec));
        break;
    }
  }
}

Options parse_options_json(const std::string& json) {
  Options o;
  json::read_flat_object(json, [&](const std::string& key, const JsonScalar& v) { set_member(o, key, v); });
  validate_options(o);
  return o;
}

}  // namespace v0
}  // namespace graphgpo

#include "graphgpo/options.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "graphgpo/error.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

class FlatJsonReader {
 public:
  explicit FlatJsonReader(const std::string& s) : s_(s) {}

  template <typename OnMember>
  void read_object(OnMember on_member) {
    skip_space();
    if (at_end()) return;  // empty string = defaults
    if (s_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
      expect_end();
      return;
    }
    expect('{');
    skip_space();
    if (peek() == '}') {
      ++pos_;
      expect_end();
      return;
    }
    while (true) {
      skip_space();
      const std::string key = read_string();
      skip_space();
      expect(':');
      skip_space();
      on_member(key, read_scalar());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      break;
    }
    expect_end();
  }

 private:
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void skip_space() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  [[noreturn]] void syntax(const char* what) const {
    std::ostringstream msg;
    msg << "options JSON: " << what << " at offset " << pos_;
    fail(msg.str());
  }
  void expect(char c) {
    if (peek() != c) {
      const std::string what = std::string("expected '") + c + "'";
      syntax(what.c_str());
    }
    ++pos_;
  }
  void expect_end() {
    skip_space();
    if (!at_end()) syntax("trailing characters");
  }
  std::string read_string() {
    expect('"');
    std::string out;
    while (true) {
      if (at_end()) syntax("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') break;
      if (c == '\\') {
        if (at_end()) syntax("unterminated escape");
        const char e = s_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          default: syntax("unsupported escape");
        }
        continue;
      }
      out += c;
    }
    return out;
  }
  JsonScalar read_scalar() {
    JsonScalar v;
    const char c = peek();
    if (c == '"') {
      v.kind = JsonScalar::String;
      v.text = read_string();
    } else if (s_.compare(pos_, 4, "true") == 0) {
      v.kind = JsonScalar::Bool;
      v.boolean = true;
      pos_ += 4;
    } else if (s_.compare(pos_, 5, "false") == 0) {
      v.kind = JsonScalar::Bool;
      pos_ += 5;
    } else if (s_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
    } else if (s_.compare(pos_, 3, "NaN") == 0) {  // Python's json.dumps writes these
      v.kind = JsonScalar::Number;
      v.number = std::numeric_limits<double>::quiet_NaN();
      pos_ += 3;
    } else if (s_.compare(pos_, 8, "Infinity") == 0 || s_.compare(pos_, 9, "-Infinity") == 0) {
      v.kind = JsonScalar::Number;
      const bool negative = c == '-';
      v.number = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
      pos_ += negative ? 9 : 8;
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      const char* begin = s_.c_str() + pos_;
      char* end = nullptr;
      v.kind = JsonScalar::Number;
      v.number = std::strtod(begin, &end);
      if (end == begin) syntax("bad number");
      pos_ += static_cast<size_t>(end - begin);
    } else {
      syntax("expected a string, number, true, false or null");
    }
    return v;
  }

  const std::string& s_;
  size_t pos_ = 0;
};

double as_number(const std::string& key, const JsonScalar& v) {
  if (v.kind == JsonScalar::Bool) return v.boolean ? 1.0 : 0.0;  // Python bools are ints
  if (v.kind != JsonScalar::Number) fail("option '" + key + "' must be a number");
  return v.number;
}

const std::string& as_string(const std::string& key, const JsonScalar& v, const char* allowed) {
  if (v.kind != JsonScalar::String) fail("option '" + key + "' must be one of " + allowed);
  return v.text;
}

template <typename Enum>
Enum choose(const std::string& key, const JsonScalar& v, const char* a, Enum ea, const char* b, Enum eb) {
  const std::string allowed = std::string("'") + a + "', '" + b + "'";
  const std::string& s = as_string(key, v, allowed.c_str());
  if (s == a) return ea;
  if (s == b) return eb;
  fail("option '" + key + "' must be one of " + allowed + ", got '" + s + "'");
}

void require_finite(const char* name, double value) {
  if (!std::isfinite(value)) fail(std::string("option '") + name + "' must be finite");
}

}  // namespace

void read_flat_json(const std::string& json,
                    const std::function<void(const std::string& key, const JsonScalar& value)>& on_member) {
  FlatJsonReader(json).read_object(on_member);
}

Method parse_method(const std::string& name) {
  if (name == "grpo") return Method::Grpo;
  if (name == "gigpo") return Method::Gigpo;
  if (name == "graphgpo") return Method::GraphGpo;
  if (name == "progpo") return Method::ProGpo;
  fail("unknown method '" + name + "': expected 'grpo', 'gigpo' or 'graphgpo'");
}

const char* method_name(Method method) {
  switch (method) {
    case Method::Grpo: return "grpo";
    case Method::Gigpo: return "gigpo";
    case Method::GraphGpo: return "graphgpo";
    case Method::ProGpo: return "progpo";
  }
  return "?";
}

void validate_options(const Options& o) {
  require_finite("omega", o.omega);
  if (!(o.omega > 0.0 && o.omega < 1.0)) fail("option 'omega' must lie in (0, 1), got " + std::to_string(o.omega));
  require_finite("gamma", o.gamma);
  if (!(o.gamma >= 0.0 && o.gamma <= 1.0)) fail("option 'gamma' must lie in [0, 1], got " + std::to_string(o.gamma));
  require_finite("success_reward", o.success_reward);
  require_finite("invalid_penalty", o.invalid_penalty);
  require_finite("step_weight", o.step_weight);
  require_finite("episode_weight", o.episode_weight);
  require_finite("eps", o.eps);
  if (o.eps < 0.0) fail("option 'eps' must be >= 0");
  if (o.num_threads < 0) fail("option 'num_threads' must be >= 0");
  if (!(o.similarity > 0.0 && o.similarity < 1.0))
    fail("option 'similarity' must lie in (0, 1), got " + std::to_string(o.similarity));
}

Options parse_options_json(const std::string& json) {
  Options o;
  FlatJsonReader reader(json);
  reader.read_object([&](const std::string& key, const JsonScalar& v) {
    if (key == "omega") o.omega = as_number(key, v);
    else if (key == "gamma") o.gamma = as_number(key, v);
    else if (key == "success_reward") o.success_reward = as_number(key, v);
    else if (key == "invalid_penalty") o.invalid_penalty = as_number(key, v);
    else if (key == "step_weight") o.step_weight = as_number(key, v);
    else if (key == "episode_weight") o.episode_weight = as_number(key, v);
    else if (key == "eps") o.eps = as_number(key, v);
    else if (key == "norm") o.norm = choose(key, v, "mean_std", Norm::MeanStd, "mean", Norm::Mean);
    else if (key == "convention")
      o.convention = choose(key, v, "reference", Convention::Reference, "paper", Convention::Paper);
    else if (key == "episode_stats")
      o.episode_stats = choose(key, v, "per_step", EpisodeStats::PerStep, "per_trajectory", EpisodeStats::PerTrajectory);
    else if (key == "distance")
      o.distance = choose(key, v, "shortest", DistanceKind::Shortest, "expected", DistanceKind::Expected);
    else if (key == "merge")
      o.merge = choose(key, v, "exact", Merge::Exact, "similar", Merge::Similar);
    else if (key == "similarity") o.similarity = as_number(key, v);
    else if (key == "normalize_distance") {
      if (v.kind != JsonScalar::Bool) fail("option 'normalize_distance' must be true or false");
      o.normalize_distance = v.boolean;
    } else if (key == "num_threads") {
      if (v.kind == JsonScalar::Null) {
        o.num_threads = 0;
      } else {
        const double t = as_number(key, v);
        if (!(t >= 0 && t <= 4096) || t != std::floor(t)) fail("option 'num_threads' must be an integer in [0, 4096]");
        o.num_threads = static_cast<int>(t);
      }
    } else {
      fail("unknown option '" + key +
           "': expected one of omega, gamma, success_reward, invalid_penalty, step_weight, episode_weight, norm, "
           "eps, convention, episode_stats, normalize_distance, distance, merge, similarity, num_threads");
    }
  });
  validate_options(o);
  return o;
}

}  // namespace v0
}  // namespace graphgpo

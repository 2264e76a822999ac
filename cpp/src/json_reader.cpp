#include "graphgpo/json_reader.hpp"

#include <charconv>
#include <cstdint>
#include <limits>
#include <set>
#include <system_error>

#include "graphgpo/error.hpp"

namespace graphgpo {
inline namespace v0 {
namespace json {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  void read(const std::function<void(const std::string&, const Scalar&)>& on_member) {
    skip_space();
    if (at_end()) return;
    if (literal("null")) {
      expect_end();
      return;
    }
    expect('{', "expected '{'");
    skip_space();
    if (peek() == '}') {
      ++pos_;
      expect_end();
      return;
    }
    std::set<std::string> keys;
    while (true) {
      skip_space();
      if (peek() != '"') syntax("expected a string key");
      const size_t key_offset = pos_;
      std::string key = read_string();
      if (!keys.insert(key).second) {
        pos_ = key_offset;
        syntax("duplicate key '" + key + "'");
      }
      skip_space();
      expect(':', "expected ':'");
      skip_space();
      const Scalar value = read_scalar();
      on_member(key, value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}', "expected ',' or '}'");
      break;
    }
    expect_end();
  }

 private:
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  void skip_space() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  [[noreturn]] void syntax(const std::string& what) const {
    fail("options JSON: " + what + " at offset " + std::to_string(pos_));
  }
  void expect(char c, const char* what) {
    if (peek() != c || at_end()) syntax(what);
    ++pos_;
  }
  void expect_end() {
    skip_space();
    if (!at_end()) syntax("unexpected characters after the object");
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Scalar read_scalar() {
    Scalar v;
    const char c = peek();
    if (c == '"') {
      v.kind = Scalar::String;
      v.text = read_string();
    } else if (literal("true")) {
      v.kind = Scalar::Bool;
      v.boolean = true;
    } else if (literal("false")) {
      v.kind = Scalar::Bool;
    } else if (literal("null")) {
    } else if (literal("NaN")) {
      v.kind = Scalar::Number;
      v.number = std::numeric_limits<double>::quiet_NaN();
    } else if (literal("Infinity")) {
      v.kind = Scalar::Number;
      v.number = std::numeric_limits<double>::infinity();
    } else if (literal("-Infinity")) {
      v.kind = Scalar::Number;
      v.number = -std::numeric_limits<double>::infinity();
    } else if (c == '-' || is_digit(c)) {
      read_number(v);
    } else if (c == '[' || c == '{') {
      syntax("option values must be strings, numbers, true, false or null, not arrays or objects");
    } else {
      syntax("expected a string, number, true, false or null");
    }
    // A value runs into the next token only through a delimiter: "truex" or "1x" are not values.
    if (!at_end() && peek() != ',' && peek() != '}' && peek() != ' ' && peek() != '\t' && peek() != '\n' &&
        peek() != '\r')
      syntax("expected ',' or '}' after a value");
    return v;
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  void read_number(Scalar& v) {
    const size_t begin = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (is_digit(peek())) syntax("numbers must not have leading zeros");
    } else if (is_digit(peek())) {
      while (is_digit(peek())) ++pos_;
    } else {
      syntax("expected a digit");
    }
    bool integer = true;
    if (peek() == '.') {
      integer = false;
      ++pos_;
      if (!is_digit(peek())) syntax("expected a digit after the decimal point");
      while (is_digit(peek())) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integer = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!is_digit(peek())) syntax("expected a digit in the exponent");
      while (is_digit(peek())) ++pos_;
    }
    const char* first = s_.data() + begin;
    const char* last = s_.data() + pos_;
    double value = 0.0;
    const auto [end, error] = std::from_chars(first, last, value, std::chars_format::general);
    if (end != last && error == std::errc()) {
      pos_ = begin;
      syntax("bad number");
    }
    if (error == std::errc::result_out_of_range) {
      value = overflows(first, last) ? std::numeric_limits<double>::infinity() : 0.0;
      if (*first == '-') value = -value;
    } else if (error != std::errc()) {
      pos_ = begin;
      syntax("bad number");
    }
    v.kind = Scalar::Number;
    v.number = value;
    v.integer = integer;
  }

  // Whether a grammatical number that from_chars called out of range is too large (else too small).
  static bool overflows(const char* first, const char* last) {
    // Decimal exponent of the first significant digit: digits before the point (after leading zeros), or
    // minus the zeros after it, plus the written exponent.
    int64_t position = 0;
    bool seen_significant = false, after_point = false;
    const char* p = first;
    if (*p == '-') ++p;
    for (; p < last && *p != 'e' && *p != 'E'; ++p) {
      if (*p == '.') {
        after_point = true;
      } else if (!seen_significant && *p == '0') {
        if (after_point) --position;
      } else if (!seen_significant) {
        seen_significant = true;
        if (after_point) --position;
      } else if (!after_point) {
        ++position;
      }
    }
    int64_t exponent = 0;
    if (p < last) {
      ++p;
      const bool negative = *p == '-';
      if (*p == '+' || *p == '-') ++p;
      for (; p < last && exponent < 1000000000; ++p) exponent = exponent * 10 + (*p - '0');
      if (negative) exponent = -exponent;
    }
    return seen_significant && position + exponent > 0;
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) syntax("expected four hex digits after \\u");
    unsigned value = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_];
      unsigned digit;
      if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
      else syntax("expected four hex digits after \\u");
      value = value * 16 + digit;
      ++pos_;
    }
    return value;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  void escape(std::string& out) {
    const char e = peek();
    ++pos_;
    switch (e) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case '/': out += '/'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'u': break;
      default: --pos_; syntax("unknown escape");
    }
    const size_t start = pos_ - 2;
    uint32_t cp = hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      pos_ = start;
      syntax("lone low surrogate in \\u escape");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // must be followed by \uDC00-\uDFFF
      if (!literal("\\u")) {
        pos_ = start;
        syntax("high surrogate not followed by a low surrogate");
      }
      const uint32_t low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        pos_ = start;
        syntax("high surrogate not followed by a low surrogate");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
  }

  // One UTF-8 encoded code point >= 0x80, copied as is (validated: no overlong forms, no surrogates,
  // nothing above U+10FFFF).
  void utf8_sequence(std::string& out) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s_[pos_ + k]); };
    const unsigned char lead = byte(0);
    size_t length;
    uint32_t cp;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      cp = lead & 0x07;
    } else {
      syntax("invalid UTF-8");
    }
    if (pos_ + length > s_.size()) syntax("invalid UTF-8");
    for (size_t k = 1; k < length; ++k) {
      if ((byte(k) & 0xC0) != 0x80) syntax("invalid UTF-8");
      cp = (cp << 6) | (byte(k) & 0x3F);
    }
    const uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) syntax("invalid UTF-8");
    out.append(s_.substr(pos_, length));
    pos_ += length;
  }

  std::string read_string() {
    ++pos_;  // the opening quote
    std::string out;
    while (true) {
      if (at_end()) syntax("unterminated string");
      const char c = s_[pos_];
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        ++pos_;
        if (at_end()) syntax("unterminated string");
        escape(out);
      } else if (u < 0x20) {
        syntax("control character in a string (escape it)");
      } else if (u < 0x80) {
        out += c;
        ++pos_;
      } else {
        utf8_sequence(out);
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

void read_flat_object(std::string_view text, const std::function<void(const std::string&, const Scalar&)>& on_member) {
  Reader(text).read(on_member);
}

std::string number_text(double x) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, x);
  return error == std::errc() ? std::string(buffer, end) : std::string("NaN");
}

}  // namespace json
}  // namespace v0
}  // namespace graphgpo

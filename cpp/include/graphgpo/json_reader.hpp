// A strict JSON reader (RFC 8259) for option objects: one object whose members are scalars.
//
// - Locale-independent: numbers go through std::from_chars, never strtod, so {"omega": 0.5} means the same
//   under de_DE.UTF-8 as under C, and {"omega": 0,5} is a syntax error everywhere.
// - Strict grammar: no hex numbers, leading zeros, '+' signs, trailing commas, comments or single quotes;
//   whitespace is space, tab, CR and LF only; strings are valid UTF-8 without raw control characters, with
//   all of JSON's escapes (\uXXXX included, surrogate pairs combined, lone surrogates refused).
// - A key that appears twice is an error (JSON leaves it open; silently keeping one is a trap).
// - Member values are scalars: a nested array or object is an error.
// - Python's json.dumps writes NaN, Infinity and -Infinity for non-finite floats. They are read as the
//   non-finite numbers they stand for, as is a literal beyond float64 (1e999), so that the option layer can
//   say "option 'omega' must be finite" instead of a syntax error. Every consumer must check finiteness.
// - The empty text, whitespace only and the literal null mean "no members" (the defaults).
// Errors throw Error(InvalidArgument) "options JSON: <what> at offset <byte offset>".
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace graphgpo {
inline namespace v0 {
namespace json {

struct Scalar {
  enum Kind { Null, Bool, Number, String };
  Kind kind = Null;
  bool boolean = false;  // Bool
  double number = 0.0;   // Number; NaN or +-inf for NaN / Infinity / -Infinity and out-of-range literals
  bool integer = false;  // Number written as an integer: no fraction, no exponent, not a non-finite token
  std::string text;      // String, as UTF-8
};

// Calls on_member(key, value) for each member, in order of appearance.
void read_flat_object(std::string_view text, const std::function<void(const std::string&, const Scalar&)>& on_member);

// The shortest text that reads back as x (std::to_chars): locale-independent, unlike printf's %g, which
// writes "0,5" under de_DE. For JSON the engine writes and for numbers in messages. x must be finite.
std::string number_text(double x);

}  // namespace json
}  // namespace v0
}  // namespace graphgpo

// Typed errors of the engine. Every public entry point validates its input and throws graphgpo::Error
// before it computes anything; the C ABI maps the code to a graphgpo_status_t and the pybind11 module maps
// InvalidArgument to ValueError, TypeError to TypeError.
#pragma once

#include <stdexcept>
#include <string>

namespace graphgpo {
inline namespace v0 {

enum class ErrorCode { InvalidArgument = 1, TypeMismatch = 2, OutOfMemory = 3, NotCompiledWithCuda = 4, Internal = 5 };

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(ErrorCode::InvalidArgument, message); }

}  // namespace v0
}  // namespace graphgpo

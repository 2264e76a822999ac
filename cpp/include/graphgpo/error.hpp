// Typed errors of the engine. Every public entry point validates its input and throws graphgpo::Error
// before it computes anything; the C ABI maps the code to a graphgpo_status_t and the pybind11 module maps
// InvalidArgument to ValueError, TypeError to TypeError, Io to OSError.
#pragma once

#include <stdexcept>
#include <string>

namespace graphgpo {
inline namespace v0 {

enum class ErrorCode {
  InvalidArgument = 1,
  TypeMismatch = 2,
  OutOfMemory = 3,
  NotCompiledWithCuda = 4,
  Internal = 5,
  Io = 6,  // a file could not be read or written (errno() says why)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(ErrorCode::InvalidArgument, message); }

// A failed read or write of a file, with the errno of the system call and the path.
class IoError : public Error {
 public:
  // what(): "<action> '<path>': <strerror>", e.g. "cannot open 'x.bin': No such file or directory".
  IoError(int error_number, const std::string& path, const std::string& action, const std::string& message)
      : Error(ErrorCode::Io, message), errno_(error_number), path_(path), action_(action) {}
  int error_number() const noexcept { return errno_; }
  const std::string& path() const noexcept { return path_; }
  const std::string& action() const noexcept { return action_; }

 private:
  int errno_;
  std::string path_;
  std::string action_;
};

}  // namespace v0
}  // namespace graphgpo

// Typed errors of the engine. Every public entry point validates its input and throws graphgpo::Error
// before it computes anything; the C ABI maps the code to a graphgpo_status_t and the pybind11 module maps
// InvalidArgument to ValueError, TypeError to TypeError.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
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

// An InvalidArgument error found at one row of the batch ("row N: what"). Groups run in parallel, so
// several may fail at once: the engine reports the one with the lowest row, whatever the thread count.
class RowError : public Error {
 public:
  RowError(size_t row, const std::string& what)
      : Error(ErrorCode::InvalidArgument, "row " + std::to_string(row) + ": " + what), row_(row) {}
  size_t row() const noexcept { return row_; }

 private:
  size_t row_;
};

[[noreturn]] inline void row_fail(size_t row, const std::string& what) { throw RowError(row, what); }

// Collects the RowErrors of work items that run in parallel; rethrow() throws the one with the lowest row.
class FirstRowError {
 public:
  void offer(const RowError& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_ || error.row() < error_->row()) error_ = error;
  }
  void rethrow() const {
    if (error_) throw *error_;
  }

 private:
  std::mutex mutex_;
  std::optional<RowError> error_;
};

}  // namespace v0
}  // namespace graphgpo

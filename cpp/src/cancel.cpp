#include "graphgpo/cancel.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

thread_local const std::atomic<bool>* tls_cancel_flag = nullptr;

}  // namespace

const std::atomic<bool>* current_cancel_flag() noexcept { return tls_cancel_flag; }

CancelScope::CancelScope(const std::atomic<bool>* flag) noexcept : previous_(tls_cancel_flag) {
  tls_cancel_flag = flag;
}

CancelScope::~CancelScope() { tls_cancel_flag = previous_; }

}  // namespace v0
}  // namespace graphgpo

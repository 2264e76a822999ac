// CPU-only builds: the CUDA entry points exist and say clearly that they are not compiled in.
// With -DGRAPHGPO_CUDA=ON this file compiles to nothing and cpp/src/cuda/*.cu define them.
#include "graphgpo/cuda.hpp"

#ifndef GRAPHGPO_WITH_CUDA

#include "graphgpo/error.hpp"

namespace graphgpo {
inline namespace v0 {
namespace cuda {
namespace {

[[noreturn]] void not_compiled(const char* what) {
  throw Error(ErrorCode::NotCompiledWithCuda,
              std::string("graphgpo::cuda::") + what +
                  ": this build of graphgpo has no CUDA kernels (rebuild with -DGRAPHGPO_CUDA=ON, e.g. "
                  "GRAPHGPO_CUDA=ON pip install .)");
}

}  // namespace

bool compiled() { return false; }

int device_count() { return 0; }

size_t workspace_size(Method, size_t, const Options&) { not_compiled("workspace_size"); }

void compute_advantages(Method, const DeviceBatch&, const Options&, double*, Stream, void*, size_t) {
  not_compiled("compute_advantages");
}

void next_state_distances(const DeviceBatch&, const Options&, double*, Stream) {
  not_compiled("next_state_distances");
}

void fingerprint_int64(const int64_t*, size_t, Fingerprint*, Stream) { not_compiled("fingerprint_int64"); }

void fingerprint_rows(const uint8_t*, size_t, size_t, size_t, const int64_t*, size_t, Fingerprint*, Stream) {
  not_compiled("fingerprint_rows");
}

void fingerprint_token_rows(const int64_t*, const int64_t*, size_t, size_t, size_t, Fingerprint*, Stream) {
  not_compiled("fingerprint_token_rows");
}

}  // namespace cuda
}  // namespace v0
}  // namespace graphgpo

#endif  // GRAPHGPO_WITH_CUDA

// Optional CUDA path (built with -DGRAPHGPO_CUDA=ON; see docs/cuda.md).
//
// Every function here exists in every build. Without CUDA compiled in, each one throws
// Error(ErrorCode::NotCompiledWithCuda) (the C ABI maps that code to GRAPHGPO_NOT_COMPILED_WITH_CUDA).
//
// Contract
// - All arrays are device pointers (cudaMalloc'd, or managed memory) on one device; the call runs on that
//   device, on `stream` (nullptr = the legacy default stream), and returns when the result is in `out`.
// - Results equal the CPU engine's (graphgpo::compute_advantages): the same validation rules and messages
//   (first offending row), distances bit-identical, and advantages bit-identical by construction (same
//   operations in the same order, no fused multiply-add); the published tolerance is 1e-12.
// - Three small device->host copies happen per call (the trajectory count; the validation verdict and group
//   count; for graphgpo the distinct exponents of omega, whose powers are computed on the host with
//   std::pow exactly like the CPU engine and copied back). No row data makes the round trip.
// - Nothing is written to `out` unless the call succeeds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "graphgpo/fingerprint.hpp"
#include "graphgpo/options.hpp"

// The CUDA runtime's stream type, declared without including cuda_runtime.h (it is the same type).
struct CUstream_st;

namespace graphgpo {
inline namespace v0 {
namespace cuda {

using Stream = CUstream_st*;

// Device views of the rows (SPEC "Input"), all of length n; optional fields may be null. Fingerprints are
// 16-byte (lo, hi) pairs, exactly like graphgpo::Fingerprint on the host.
struct DeviceBatch {
  size_t n = 0;
  const int64_t* group = nullptr;
  const int64_t* trajectory = nullptr;
  const Fingerprint* state = nullptr;
  const Fingerprint* next_state = nullptr;  // optional
  const uint8_t* success = nullptr;
  const uint8_t* valid = nullptr;    // optional
  const double* reward = nullptr;    // optional
  const double* cost = nullptr;      // optional
  const int64_t* action = nullptr;   // optional; required by distance="expected"
};

// Largest batch the device path accepts (node ids are 32-bit on the device).
constexpr size_t kMaxDeviceRows = size_t(1) << 29;

// True when this build has the CUDA kernels (never throws).
bool compiled();

// Number of visible CUDA devices (0 when none, or when CUDA is not compiled in; never throws).
int device_count();

// Bytes of device scratch that compute_advantages needs for this method, batch size and options.
size_t workspace_size(Method method, size_t n, const Options& options);

// Advantages of the batch into out_device[0 .. n). `workspace` is optional device scratch of at least
// workspace_size(...) bytes (callers with their own allocator, e.g. PyTorch's, pass it); when null the call
// allocates and frees its own with cudaMallocAsync on `stream`.
void compute_advantages(Method method, const DeviceBatch& batch, const Options& options, double* out_device,
                        Stream stream = nullptr, void* workspace = nullptr, size_t workspace_bytes = 0);

// The distance to SUCCESS of each row's next node (the d(next_state) that graphgpo raises omega to),
// into out_device[0 .. n), as graphgpo computes it with these options (distance="shortest"|"expected");
// equal to the CPU graph's distances (graphgpo::build_graph_batch). For diagnostics and tests.
void next_state_distances(const DeviceBatch& batch, const Options& options, double* out_device,
                          Stream stream = nullptr);

// Fingerprints on the device, identical to the host functions:
// - fingerprint_int64: like graphgpo::fingerprint_int64 for each value.
// - fingerprint_rows: row i is `row_bytes` bytes at data + i * stride (FingerprintDomain::ArrayRow), like
//   graphgpo::fingerprint_rows_batch. With `lengths` (device, one int64 per row, in elements of
//   `element_bytes`), row i is the first lengths[i] elements only, like fingerprint_buffers_batch in the
//   ArrayRow domain (ragged token-id sequences padded into one array).
// - fingerprint_token_rows: the int64 case of fingerprint_rows (token ids; `lengths` may be null).
void fingerprint_int64(const int64_t* values, size_t n, Fingerprint* out_device, Stream stream = nullptr);
void fingerprint_rows(const uint8_t* data, size_t n, size_t row_bytes, size_t stride, const int64_t* lengths,
                      size_t element_bytes, Fingerprint* out_device, Stream stream = nullptr);
void fingerprint_token_rows(const int64_t* tokens, const int64_t* lengths, size_t num_rows, size_t width,
                            size_t row_stride, Fingerprint* out_device, Stream stream = nullptr);

}  // namespace cuda
}  // namespace v0
}  // namespace graphgpo

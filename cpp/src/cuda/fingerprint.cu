// Fingerprints on the device: the host algorithm of cpp/src/fingerprint.cpp (shared code in hd.cuh), one
// thread per row.
#include "cuda_backend.cuh"
#include "graphgpo/cuda.hpp"

namespace graphgpo {
inline namespace v0 {
namespace cuda {

using cuda_impl::check_cuda;

namespace {

__global__ void fingerprint_int64_kernel(const int64_t* values, uint64_t n, Fingerprint* out) {
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const cuda_impl::Fp f = cuda_impl::fingerprint_int64(values[i]);
    out[i].lo = f.lo;
    out[i].hi = f.hi;
  }
}

// Row i: row_bytes bytes at data + i * stride, or its first lengths[i] elements. A length outside
// [0, row_bytes / element_bytes] is recorded in *bad_row (smallest such row) and that row is skipped.
__global__ void fingerprint_rows_kernel(const uint8_t* data, uint64_t n, uint64_t row_bytes, uint64_t stride,
                                        const int64_t* lengths, uint64_t element_bytes, Fingerprint* out,
                                        unsigned long long* bad_row) {
  const uint64_t step = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  const uint64_t capacity = element_bytes ? row_bytes / element_bytes : 0;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    uint64_t size = row_bytes;
    if (lengths) {
      const int64_t length = lengths[i];
      if (length < 0 || static_cast<uint64_t>(length) > capacity) {
        atomicMin(bad_row, static_cast<unsigned long long>(i));
        continue;
      }
      size = static_cast<uint64_t>(length) * element_bytes;
    }
    const cuda_impl::Fp f = cuda_impl::fingerprint_bytes(data + i * stride, size, cuda_impl::kDomainArrayRow);
    out[i].lo = f.lo;
    out[i].hi = f.hi;
  }
}

unsigned blocks_for(uint64_t n) {
  const uint64_t b = (n + 255) / 256;
  return static_cast<unsigned>(b < 4096 ? (b ? b : 1) : 4096);
}

}  // namespace

void fingerprint_int64(const int64_t* values, size_t n, Fingerprint* out, Stream stream) {
  if (n == 0) return;
  if (!values || !out) fail("values and out must not be null");
  const int device = cuda_impl::device_of(values, "values");
  if (cuda_impl::device_of(out, "out") != device) fail("out is on another CUDA device than values");
  const cuda_impl::DeviceGuard guard(device);
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  fingerprint_int64_kernel<<<blocks_for(n), 256, 0, s>>>(values, n, out);
  check_cuda(cudaGetLastError(), "fingerprint_int64 launch");
  check_cuda(cudaStreamSynchronize(s), "fingerprint_int64");
}

void fingerprint_rows(const uint8_t* data, size_t n, size_t row_bytes, size_t stride, const int64_t* lengths,
                      size_t element_bytes, Fingerprint* out, Stream stream) {
  if (n == 0) return;
  if (!out || (!data && row_bytes > 0)) fail("data and out must not be null");
  if (lengths && element_bytes == 0) fail("element_bytes must be > 0 with lengths");
  if (stride < row_bytes) fail("stride must be >= row_bytes");
  const int device = cuda_impl::device_of(out, "out");
  if (data && cuda_impl::device_of(data, "data") != device) fail("data is on another CUDA device than out");
  if (lengths && cuda_impl::device_of(lengths, "lengths") != device)
    fail("lengths is on another CUDA device than out");
  const cuda_impl::DeviceGuard guard(device);
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  cuda_impl::StreamBuffer flag(sizeof(unsigned long long), s);
  auto* bad_row = static_cast<unsigned long long*>(flag.get());
  check_cuda(cudaMemsetAsync(bad_row, 0xff, sizeof(unsigned long long), s), "cudaMemsetAsync");
  fingerprint_rows_kernel<<<blocks_for(n), 256, 0, s>>>(data, n, row_bytes, stride, lengths, element_bytes, out,
                                                        bad_row);
  check_cuda(cudaGetLastError(), "fingerprint_rows launch");
  unsigned long long bad = 0;
  check_cuda(cudaMemcpyAsync(&bad, bad_row, sizeof bad, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  check_cuda(cudaStreamSynchronize(s), "fingerprint_rows");
  if (bad != ~0ULL) {
    int64_t length = 0;
    check_cuda(cudaMemcpy(&length, lengths + bad, sizeof length, cudaMemcpyDeviceToHost), "cudaMemcpy");
    fail("row " + std::to_string(bad) + ": length " + std::to_string(length) + " is outside [0, " +
         std::to_string(row_bytes / element_bytes) + "]");
  }
}

void fingerprint_token_rows(const int64_t* tokens, const int64_t* lengths, size_t num_rows, size_t width,
                            size_t row_stride, Fingerprint* out, Stream stream) {
  fingerprint_rows(reinterpret_cast<const uint8_t*>(tokens), num_rows, width * sizeof(int64_t),
                   row_stride * sizeof(int64_t), lengths, sizeof(int64_t), out, stream);
}

}  // namespace cuda
}  // namespace v0
}  // namespace graphgpo

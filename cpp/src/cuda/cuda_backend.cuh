// The CUDA backend of pipeline.cuh: kernels launched on one stream, CUB for radix sort and scan.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "graphgpo/error.hpp"
#include "pipeline.cuh"

namespace graphgpo {
namespace cuda_impl {

constexpr int kThreads = 256;       // threads per block of element-wise kernels
constexpr int kGroupThreads = 128;  // threads per block of per-group kernels

inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear a sticky launch error so later calls see a clean state
    throw Error(ErrorCode::Internal, std::string("CUDA error in ") + what + ": " + cudaGetErrorName(status) + " (" +
                                         cudaGetErrorString(status) + ")");
  }
}

// CUB wrappers (primitives.cu). The *_temp_bytes functions return the scratch a call of that size needs.
size_t sort_pairs_temp_bytes(uint32_t n);
size_t exclusive_sum_temp_bytes(uint32_t n);
void sort_pairs(void* temp, size_t temp_bytes, const uint64_t* keys_in, uint64_t* keys_out, const uint32_t* values_in,
                uint32_t* values_out, uint32_t n, int bits, cudaStream_t stream);
void exclusive_sum(void* temp, size_t temp_bytes, const uint32_t* in, uint32_t* out, uint32_t n, cudaStream_t stream);

// One thread block working on one group.
struct DeviceBlock {
  double* scratch;  // shared memory, >= 33 doubles
  GG_HD unsigned tid() const {
#if defined(__CUDA_ARCH__)
    return threadIdx.x;
#else
    return 0;
#endif
  }
  GG_HD unsigned size() const {
#if defined(__CUDA_ARCH__)
    return blockDim.x;
#else
    return 1;
#endif
  }
  GG_HD void sync() const {
#if defined(__CUDA_ARCH__)
    __syncthreads();
#endif
  }
  GG_HD bool any(bool p) const {
#if defined(__CUDA_ARCH__)
    return __syncthreads_or(p ? 1 : 0) != 0;
#else
    return p;
#endif
  }
  // Block-wide maximum (std::max semantics; inputs are never NaN). Every thread gets the result.
  GG_HD double max(double x) const {
#if defined(__CUDA_ARCH__)
    for (int offset = 16; offset > 0; offset >>= 1) x = max_of(x, __shfl_down_sync(0xffffffffu, x, offset));
    const unsigned lane = threadIdx.x & 31u;
    const unsigned warp = threadIdx.x >> 5;
    __syncthreads();  // scratch may still be read from the previous call
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    if (threadIdx.x == 0) {
      double r = scratch[0];
      for (unsigned w = 1; w < (blockDim.x + 31u) / 32u; ++w) r = max_of(r, scratch[w]);
      scratch[32] = r;
    }
    __syncthreads();
    return scratch[32];
#else
    return x;
#endif
  }
};

template <class F>
__global__ void __launch_bounds__(kThreads) for_each_kernel(F f, uint32_t n) {
  const uint32_t stride = blockDim.x * gridDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

template <class F>
__global__ void __launch_bounds__(kThreads) for_each_counted_kernel(F f, const uint32_t* count) {
  const uint32_t n = *count;
  const uint32_t stride = blockDim.x * gridDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

template <class F>
__global__ void __launch_bounds__(kGroupThreads) per_group_kernel(F f, uint32_t groups) {
  __shared__ double scratch[33];
  const DeviceBlock block{scratch};
  for (uint32_t g = blockIdx.x; g < groups; g += gridDim.x) f(block, g);
}

struct CudaBackend {
  using Block = DeviceBlock;
  cudaStream_t stream = nullptr;
  void* temp = nullptr;
  size_t temp_bytes = 0;
  uint32_t max_blocks = 1024;  // grid cap of element-wise kernels (grid-stride loops cover the rest)

  uint32_t blocks_for(uint64_t n) const {
    const uint64_t b = (n + kThreads - 1) / kThreads;
    return static_cast<uint32_t>(b < max_blocks ? (b ? b : 1) : max_blocks);
  }
  template <class F>
  void for_each(uint32_t n, F f) {
    if (n == 0) return;
    for_each_kernel<<<blocks_for(n), kThreads, 0, stream>>>(f, n);
    check_cuda(cudaGetLastError(), "for_each launch");
  }
  template <class F>
  void for_each_counted(const uint32_t* count, uint32_t bound, F f) {
    if (bound == 0) return;
    for_each_counted_kernel<<<blocks_for(bound), kThreads, 0, stream>>>(f, count);
    check_cuda(cudaGetLastError(), "for_each_counted launch");
  }
  template <class F>
  void per_group(uint32_t groups, F f) {
    if (groups == 0) return;
    const uint32_t grid = groups < 65535u ? groups : 65535u;
    per_group_kernel<<<grid, kGroupThreads, 0, stream>>>(f, groups);
    check_cuda(cudaGetLastError(), "per_group launch");
  }
  void sort_pairs(const uint64_t* kin, uint64_t* kout, const uint32_t* vin, uint32_t* vout, uint32_t n, int bits) {
    if (n == 0) return;
    cuda_impl::sort_pairs(temp, temp_bytes, kin, kout, vin, vout, n, bits, stream);
  }
  void exclusive_sum(const uint32_t* in, uint32_t* out, uint32_t n) {
    if (n == 0) return;
    cuda_impl::exclusive_sum(temp, temp_bytes, in, out, n, stream);
  }
  void fill(void* p, int byte, size_t bytes) {
    if (bytes) check_cuda(cudaMemsetAsync(p, byte, bytes, stream), "cudaMemsetAsync");
  }
  void to_host_async(void* dst, const void* src, size_t bytes) {
    if (bytes) check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync to host");
  }
  void to_device(void* dst, const void* src, size_t bytes) {
    if (!bytes) return;
    check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync to device");
    synchronize();  // `src` is pageable host memory that the caller may free on return
  }
  void synchronize() { check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize"); }
};

// Makes `device` current for the lifetime of the guard.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check_cuda(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() {
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// The device a caller's pointer lives on; fails unless it is device (or managed) memory.
inline int device_of(const void* p, const char* name) {
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, p);
  if (status != cudaSuccess) {
    cudaGetLastError();
    fail(std::string(name) + " is not a CUDA device pointer (" + cudaGetErrorString(status) + ")");
  }
  if (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged)
    fail(std::string(name) + " is not CUDA device memory (pass device arrays, e.g. torch CUDA tensors)");
  return attributes.device;
}

// Device scratch from cudaMallocAsync, released on the same stream (also when an exception unwinds).
class StreamBuffer {
 public:
  StreamBuffer(size_t bytes, cudaStream_t stream) : stream_(stream) {
    check_cuda(cudaMallocAsync(&data_, bytes, stream), "cudaMallocAsync");
  }
  ~StreamBuffer() {
    if (data_) cudaFreeAsync(data_, stream_);
  }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  void* get() const { return data_; }

 private:
  void* data_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace cuda_impl
}  // namespace graphgpo

// CUB radix sort and scan, instantiated once each (uint64 keys with uint32 values; uint32 sums) in their
// own translation unit: they dominate the CUDA compile time.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "cuda_backend.cuh"

namespace graphgpo {
namespace cuda_impl {

size_t sort_pairs_temp_bytes(uint32_t n) {
  size_t bytes = 0;
  check_cuda(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const uint64_t*>(nullptr),
                                             static_cast<uint64_t*>(nullptr), static_cast<const uint32_t*>(nullptr),
                                             static_cast<uint32_t*>(nullptr), n, 0, 64),
             "cub::DeviceRadixSort::SortPairs (size query)");
  return bytes;
}

size_t exclusive_sum_temp_bytes(uint32_t n) {
  size_t bytes = 0;
  check_cuda(cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<const uint32_t*>(nullptr),
                                           static_cast<uint32_t*>(nullptr), n),
             "cub::DeviceScan::ExclusiveSum (size query)");
  return bytes;
}

void sort_pairs(void* temp, size_t temp_bytes, const uint64_t* keys_in, uint64_t* keys_out, const uint32_t* values_in,
                uint32_t* values_out, uint32_t n, int bits, cudaStream_t stream) {
  size_t needed = 0;
  check_cuda(cub::DeviceRadixSort::SortPairs(nullptr, needed, keys_in, keys_out, values_in, values_out, n, 0, bits,
                                             stream),
             "cub::DeviceRadixSort::SortPairs (size query)");
  if (needed > temp_bytes) throw Error(ErrorCode::Internal, "graphgpo CUDA: radix sort scratch too small");
  check_cuda(cub::DeviceRadixSort::SortPairs(temp, needed, keys_in, keys_out, values_in, values_out, n, 0, bits,
                                             stream),
             "cub::DeviceRadixSort::SortPairs");
}

void exclusive_sum(void* temp, size_t temp_bytes, const uint32_t* in, uint32_t* out, uint32_t n, cudaStream_t stream) {
  size_t needed = 0;
  check_cuda(cub::DeviceScan::ExclusiveSum(nullptr, needed, in, out, n, stream),
             "cub::DeviceScan::ExclusiveSum (size query)");
  if (needed > temp_bytes) throw Error(ErrorCode::Internal, "graphgpo CUDA: scan scratch too small");
  check_cuda(cub::DeviceScan::ExclusiveSum(temp, needed, in, out, n, stream), "cub::DeviceScan::ExclusiveSum");
}

}  // namespace cuda_impl
}  // namespace graphgpo

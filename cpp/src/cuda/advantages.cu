// graphgpo::cuda::compute_advantages and friends: the pipeline of pipeline.cuh on the CUDA backend.
#include <memory>
#include <string>

#include "cuda_backend.cuh"
#include "graphgpo/cuda.hpp"

namespace graphgpo {
inline namespace v0 {
namespace cuda {

using cuda_impl::check_cuda;

namespace {

size_t temp_bytes_for(const cuda_impl::Shape& shape) {
  const uint32_t items = static_cast<uint32_t>(shape.sort_items());
  const size_t sort = cuda_impl::sort_pairs_temp_bytes(items);
  const size_t scan = cuda_impl::exclusive_sum_temp_bytes(items + 1);
  return sort > scan ? sort : scan;
}

uint32_t grid_cap() {
  int device = 0;
  int sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) {
    cudaGetLastError();
    return 1024;
  }
  return static_cast<uint32_t>(sms) * 8u;
}

// Every given pointer must be device memory on one device; returns that device.
int batch_device(const DeviceBatch& b, const double* out) {
  const int device = cuda_impl::device_of(b.group, "group");
  auto same = [&](const void* p, const char* name) {
    if (p && cuda_impl::device_of(p, name) != device)
      fail(std::string(name) + " is on another CUDA device than group");
  };
  same(b.trajectory, "trajectory");
  same(b.state, "state");
  same(b.next_state, "next_state");
  same(b.success, "success");
  same(b.valid, "valid");
  same(b.reward, "reward");
  same(b.cost, "cost");
  same(b.action, "action");
  same(out, "out");
  return device;
}

}  // namespace

bool compiled() { return true; }

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

namespace {

void require_device() {
  if (device_count() == 0)
    throw Error(ErrorCode::Internal, "graphgpo::cuda: no CUDA device is visible (cudaGetDeviceCount() is 0)");
}

}  // namespace

size_t workspace_size(Method method, size_t n, const Options& options) {
  if (n == 0) return 0;
  require_device();
  if (n > kMaxDeviceRows) fail("the CUDA path takes at most " + std::to_string(kMaxDeviceRows) + " rows");
  cuda_impl::require_cuda_support(method);
  const cuda_impl::Shape shape = cuda_impl::shape_of(method, n, options);
  cuda_impl::Work w;
  return cuda_impl::carve(nullptr, shape, temp_bytes_for(shape), w) + 256;  // + alignment slack
}

namespace {

void run(Method method, const DeviceBatch& batch, const Options& options, double* out_device,
         double* next_distance_device, Stream stream, void* workspace, size_t workspace_bytes) {
  cuda_impl::check_batch(method, batch, options);
  if (batch.n == 0) return;
  if (!out_device && !next_distance_device) fail("out must not be null");
  require_device();
  const cuda_impl::DeviceGuard guard(batch_device(batch, out_device ? out_device : next_distance_device));
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  const cuda_impl::Shape shape = cuda_impl::shape_of(method, batch.n, options);
  const size_t temp = temp_bytes_for(shape);
  cuda_impl::Work w;
  const size_t needed = cuda_impl::carve(nullptr, shape, temp, w) + 256;
  std::unique_ptr<cuda_impl::StreamBuffer> owned;
  if (workspace) {
    if (workspace_bytes < needed)
      fail("workspace too small: " + std::to_string(workspace_bytes) + " bytes, need " + std::to_string(needed));
  } else {
    owned.reset(new cuda_impl::StreamBuffer(needed, s));
    workspace = owned->get();
  }
  char* base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(workspace) + 255) & ~uintptr_t(255));
  cuda_impl::carve(base, shape, temp, w);
  cuda_impl::CudaBackend backend;
  backend.stream = s;
  backend.temp = w.temp;
  backend.temp_bytes = w.temp_bytes;
  backend.max_blocks = grid_cap();
  cuda_impl::run_pipeline(backend, method, batch, options, out_device, w, next_distance_device);
}

}  // namespace

void compute_advantages(Method method, const DeviceBatch& batch, const Options& options, double* out_device,
                        Stream stream, void* workspace, size_t workspace_bytes) {
  if (batch.n > 0 && !out_device) fail("out must not be null");
  run(method, batch, options, out_device, nullptr, stream, workspace, workspace_bytes);
}

void next_state_distances(const DeviceBatch& batch, const Options& options, double* out_device, Stream stream) {
  if (batch.n > 0 && !out_device) fail("out must not be null");
  run(Method::GraphGpo, batch, options, nullptr, out_device, stream, nullptr, 0);
}

}  // namespace cuda
}  // namespace v0
}  // namespace graphgpo

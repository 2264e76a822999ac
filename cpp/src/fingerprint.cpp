#include "graphgpo/fingerprint.hpp"

#include <cstring>

#include "fingerprint_constants.hpp"
#include "graphgpo/parallel.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

using namespace fingerprint_constants;  // NOLINT: the hash is written in terms of these names

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// 64x64 -> 128 multiply, folded: the core mixing step. Both operands carry state, so every input bit
// reaches every output bit after the final avalanche.
inline uint64_t fold_multiply(uint64_t a, uint64_t b) {
  const __uint128_t product = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

// A bijective avalanche on 64 bits (xor-shift-multiply; invertible because the multipliers are odd).
inline uint64_t avalanche(uint64_t x) {
  x ^= x >> 32;
  x *= kAvalanche;
  x ^= x >> 32;
  x *= kAvalanche;
  x ^= x >> 32;
  return x;
}

inline Fingerprint never_zero(Fingerprint f) {
  if (f.lo == 0 && f.hi == 0) f.lo = kGolden;  // {0,0} is reserved for "no state"
  return f;
}

}  // namespace

Fingerprint fingerprint_bytes(const void* data, size_t size, FingerprintDomain domain) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  const uint64_t seed = static_cast<uint64_t>(domain) * kGolden;
  uint64_t lane0 = seed ^ kK0;
  uint64_t lane1 = seed ^ kK1;
  uint64_t lane2 = seed ^ kK2;
  uint64_t lane3 = seed ^ kK3;
  size_t remaining = size;
  // Four independent lanes over 64-byte stripes keep the multipliers busy.
  while (remaining >= 64) {
    lane0 = fold_multiply(load64(p) ^ kK4 ^ lane0, load64(p + 8) ^ kK5);
    lane1 = fold_multiply(load64(p + 16) ^ kK6 ^ lane1, load64(p + 24) ^ kK7);
    lane2 = fold_multiply(load64(p + 32) ^ kK5 ^ lane2, load64(p + 40) ^ kK4);
    lane3 = fold_multiply(load64(p + 48) ^ kK7 ^ lane3, load64(p + 56) ^ kK6);
    p += 64;
    remaining -= 64;
  }
  // Tail: whole 16-byte blocks go to lanes in turn, the last partial block is zero-padded; the length is
  // mixed in at the end so padding never makes two lengths equal.
  uint64_t* lanes[4] = {&lane0, &lane1, &lane2, &lane3};
  int lane = 0;
  while (remaining >= 16) {
    *lanes[lane] = fold_multiply(load64(p) ^ kK4 ^ *lanes[lane], load64(p + 8) ^ kK7);
    lane = (lane + 1) & 3;
    p += 16;
    remaining -= 16;
  }
  if (remaining > 0) {
    uint8_t block[16] = {0};
    std::memcpy(block, p, remaining);
    *lanes[lane] = fold_multiply(load64(block) ^ kK5 ^ *lanes[lane], load64(block + 8) ^ kK6);
  }
  const uint64_t length = static_cast<uint64_t>(size);
  const uint64_t a = fold_multiply(lane0 ^ kK0, lane1 ^ length ^ kK3) ^ fold_multiply(lane2 ^ kK1, lane3 ^ kK2);
  const uint64_t b = fold_multiply(lane0 ^ kK6, lane2 ^ length ^ kK5) ^ fold_multiply(lane1 ^ kK7, lane3 ^ kK4);
  return never_zero({avalanche(a ^ length), avalanche(b + kGolden)});
}

Fingerprint fingerprint_int64(int64_t value) {
  const uint64_t v = static_cast<uint64_t>(value);
  // Each half is a bijection of v (xor with a constant, then an invertible avalanche): no collisions.
  const uint64_t seed = static_cast<uint64_t>(FingerprintDomain::Int64) * kGolden;
  return never_zero({avalanche(v ^ seed ^ kK0), avalanche((v ^ kK1) * kGolden)});
}

void fingerprint_int64_batch(const int64_t* values, size_t n, Fingerprint* out, int num_threads) {
  parallel_for(n, 1 << 13, resolve_num_threads(num_threads, n / 8192), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) out[i] = fingerprint_int64(values[i]);
  });
}

void fingerprint_rows_batch(const uint8_t* data, size_t n, size_t row_bytes, size_t stride, Fingerprint* out,
                            int num_threads) {
  const size_t work = n * (row_bytes + 64) / 65536;
  parallel_for(n, 1024, resolve_num_threads(num_threads, work), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i)
      out[i] = fingerprint_bytes(data + i * stride, row_bytes, FingerprintDomain::ArrayRow);
  });
}

void fingerprint_buffers_batch(const char* const* pointers, const size_t* sizes, size_t n, Fingerprint* out,
                               int num_threads, FingerprintDomain domain) {
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += sizes[i] + 64;
  parallel_for(n, 256, resolve_num_threads(num_threads, total / 65536), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) out[i] = fingerprint_bytes(pointers[i], sizes[i], domain);
  });
}

}  // namespace v0
}  // namespace graphgpo

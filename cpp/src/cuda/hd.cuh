// Code shared by the device kernels and the host emulation of the device pipeline (tests/cuda/emulate_main.cpp):
// plain functions that nvcc compiles for both sides, and g++ compiles as ordinary C++.
//
// Every floating-point expression here mirrors the CPU engine's (cpp/src/*.cpp) operation by operation.
// The CUDA sources are compiled with --fmad=false, so no multiply-add is fused and each result is the
// correctly rounded IEEE result, exactly as on the host (double +, -, *, / and sqrt are correctly rounded
// on the device too).
#pragma once

#include <cstdint>
#include <cstring>

#include "../fingerprint_constants.hpp"

#if defined(__CUDACC__)
#define GG_HD __host__ __device__
#define GG_INLINE __forceinline__
#else
#define GG_HD
#define GG_INLINE inline
#endif

namespace graphgpo {
namespace cuda_impl {

// ---------------------------------------------------------------------------------------------------
// Bits and small helpers

GG_HD GG_INLINE uint64_t double_bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

GG_HD GG_INLINE double bits_double(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

GG_HD GG_INLINE double infinity() { return bits_double(0x7ff0000000000000ULL); }

// std::isfinite without <cmath> (same on both sides): the exponent field is not all ones.
GG_HD GG_INLINE bool is_finite(double x) { return (double_bits(x) & 0x7ff0000000000000ULL) != 0x7ff0000000000000ULL; }

GG_HD GG_INLINE double abs_value(double x) { return bits_double(double_bits(x) & 0x7fffffffffffffffULL); }

// std::min / std::max semantics (first argument wins ties), as the CPU engine calls them.
GG_HD GG_INLINE double min_of(double a, double b) { return (b < a) ? b : a; }
GG_HD GG_INLINE double max_of(double a, double b) { return (a < b) ? b : a; }

GG_HD GG_INLINE double square_root(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);  // IEEE round-to-nearest, like std::sqrt
#else
  return __builtin_sqrt(x);
#endif
}

// Smallest b >= 1 with value < 2^b: the key width handed to the radix sort.
inline int bits_for(uint64_t value) {
  int b = 1;
  while (b < 64 && (value >> b) != 0) ++b;
  return b;
}

constexpr uint64_t kSignBit = 0x8000000000000000ULL;

// ---------------------------------------------------------------------------------------------------
// Fingerprints: exactly graphgpo::fingerprint_bytes / fingerprint_int64 (cpp/src/fingerprint.cpp).

using namespace ::graphgpo::fingerprint_constants;  // shared with fingerprint.cpp
constexpr uint64_t kDomainInt64 = 2;
constexpr uint64_t kDomainArrayRow = 3;

GG_HD GG_INLINE uint64_t fold_multiply(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return (a * b) ^ __umul64hi(a, b);
#else
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
#endif
}

GG_HD GG_INLINE uint64_t avalanche(uint64_t x) {
  x ^= x >> 32;
  x *= kAvalanche;
  x ^= x >> 32;
  x *= kAvalanche;
  x ^= x >> 32;
  return x;
}

// Little-endian 64-bit load from any alignment.
GG_HD GG_INLINE uint64_t load64(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p) & 7) == 0) return *reinterpret_cast<const uint64_t*>(p);
  uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

struct Fp {
  uint64_t lo;
  uint64_t hi;
};

GG_HD GG_INLINE Fp never_zero(Fp f) {
  if (f.lo == 0 && f.hi == 0) f.lo = kGolden;
  return f;
}

GG_HD inline Fp fingerprint_bytes(const uint8_t* p, uint64_t size, uint64_t domain) {
  const uint64_t seed = domain * kGolden;
  uint64_t lane[4] = {seed ^ kK0, seed ^ kK1, seed ^ kK2, seed ^ kK3};
  uint64_t remaining = size;
  while (remaining >= 64) {
    lane[0] = fold_multiply(load64(p) ^ kK4 ^ lane[0], load64(p + 8) ^ kK5);
    lane[1] = fold_multiply(load64(p + 16) ^ kK6 ^ lane[1], load64(p + 24) ^ kK7);
    lane[2] = fold_multiply(load64(p + 32) ^ kK5 ^ lane[2], load64(p + 40) ^ kK4);
    lane[3] = fold_multiply(load64(p + 48) ^ kK7 ^ lane[3], load64(p + 56) ^ kK6);
    p += 64;
    remaining -= 64;
  }
  int k = 0;
  while (remaining >= 16) {
    lane[k] = fold_multiply(load64(p) ^ kK4 ^ lane[k], load64(p + 8) ^ kK7);
    k = (k + 1) & 3;
    p += 16;
    remaining -= 16;
  }
  if (remaining > 0) {
    uint8_t block[16];
    for (int i = 0; i < 16; ++i) block[i] = static_cast<uint64_t>(i) < remaining ? p[i] : 0;
    lane[k] = fold_multiply(load64(block) ^ kK5 ^ lane[k], load64(block + 8) ^ kK6);
  }
  const uint64_t length = size;
  const uint64_t a =
      fold_multiply(lane[0] ^ kK0, lane[1] ^ length ^ kK3) ^ fold_multiply(lane[2] ^ kK1, lane[3] ^ kK2);
  const uint64_t b =
      fold_multiply(lane[0] ^ kK6, lane[2] ^ length ^ kK5) ^ fold_multiply(lane[1] ^ kK7, lane[3] ^ kK4);
  return never_zero({avalanche(a ^ length), avalanche(b + kGolden)});
}

GG_HD GG_INLINE Fp fingerprint_int64(int64_t value) {
  const uint64_t v = static_cast<uint64_t>(value);
  const uint64_t seed = kDomainInt64 * kGolden;
  return never_zero({avalanche(v ^ seed ^ kK0), avalanche((v ^ kK1) * kGolden)});
}

// ---------------------------------------------------------------------------------------------------
// Segmented normalization: exactly graphgpo::normalize_segment (cpp/src/normalize.cpp), one segment read
// through get(k) in order and written through put(k, value).

enum NormKind : int { kNormMeanStd = 0, kNormMean = 1 };

template <class Get, class Put>
GG_HD void normalize_sequential(uint32_t n, int norm, double eps, bool singleton_zero, Get get, Put put) {
  if (n == 0) return;
  double mean = 0.0;
  double std_dev = 1.0;
  if (n == 1) {
    if (singleton_zero) {
      put(0, 0.0);
      return;
    }
  } else {
    const double first = get(0);
    bool all_equal = true;
    for (uint32_t i = 1; i < n && all_equal; ++i) all_equal = get(i) == first;
    if (all_equal) {
      for (uint32_t i = 0; i < n; ++i) put(i, 0.0);
      return;
    }
    double sum = 0.0;
    for (uint32_t i = 0; i < n; ++i) sum += get(i);
    mean = sum / static_cast<double>(n);
    double squares = 0.0;
    for (uint32_t i = 0; i < n; ++i) {
      const double d = get(i) - mean;
      squares += d * d;
    }
    std_dev = square_root(squares / static_cast<double>(n - 1));
  }
  if (norm == kNormMean) {
    for (uint32_t i = 0; i < n; ++i) put(i, get(i) - mean);
    return;
  }
  const double scale = std_dev + eps;
  for (uint32_t i = 0; i < n; ++i) put(i, (get(i) - mean) / scale);
}

}  // namespace cuda_impl
}  // namespace graphgpo

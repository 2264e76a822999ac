// The constants of the 128-bit fingerprint (fingerprint.cpp), shared with the CUDA kernels
// (cuda/hd.cuh) so the host and device hashes cannot drift apart. Changing any of them changes every
// fingerprint: a breaking change for stored fingerprints.
#pragma once

#include <cstdint>

namespace graphgpo {
namespace fingerprint_constants {

// Odd 64-bit constants: fractional parts of square roots of the first primes (as in SHA-512's IV) and the
// golden ratio. Any fixed, well-mixed odd constants would do; these are easy to audit.
constexpr uint64_t kK0 = 0x6a09e667f3bcc909ULL;
constexpr uint64_t kK1 = 0xbb67ae8584caa73bULL;
constexpr uint64_t kK2 = 0x3c6ef372fe94f82bULL;
constexpr uint64_t kK3 = 0xa54ff53a5f1d36f1ULL;
constexpr uint64_t kK4 = 0x510e527fade682d1ULL;
constexpr uint64_t kK5 = 0x9b05688c2b3e6c1fULL;
constexpr uint64_t kK6 = 0x1f83d9abfb41bd6bULL;
constexpr uint64_t kK7 = 0x5be0cd19137e2179ULL;
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
// Multiplier of the bijective avalanche (xor-shift-multiply).
constexpr uint64_t kAvalanche = 0xd6e8feb86659fd93ULL;

}  // namespace fingerprint_constants
}  // namespace graphgpo

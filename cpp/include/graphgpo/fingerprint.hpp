// 128-bit state fingerprints.
//
// Contract
// - Deterministic across runs, processes, thread counts and little-endian machines: a fingerprint depends
//   only on the bytes (or the integer value) and the domain it is computed in. Big-endian hosts are not
//   supported (input words are read little-endian through memcpy, so results would differ there).
// - Domains keep kinds apart: bytes (str is hashed as its UTF-8 bytes), int64 values, rows of an array,
//   sequences. Compare fingerprints only within one domain.
// - int64 values: each half is a bijective mix of the value, so two distinct integers never collide.
// - bytes: a multiply-fold hash over four independent 64-bit lanes (64-byte stripes), finalized into two
//   independently mixed 64-bit halves. It is not cryptographic. For well-mixed outputs, the odds that any
//   two of n distinct states collide are about n^2 / 2^129 (1.5e-27 for a million states per batch).
// - Fingerprint {0, 0} is reserved for "no state" and is never produced (it is remapped).
#pragma once

#include <cstddef>
#include <cstdint>

namespace graphgpo {
inline namespace v0 {

struct Fingerprint {
  uint64_t lo;
  uint64_t hi;
  friend bool operator==(const Fingerprint& a, const Fingerprint& b) { return a.lo == b.lo && a.hi == b.hi; }
  friend bool operator!=(const Fingerprint& a, const Fingerprint& b) { return !(a == b); }
};
static_assert(sizeof(Fingerprint) == 16, "Fingerprint must be two packed uint64");

enum class FingerprintDomain : uint64_t { Bytes = 1, Int64 = 2, ArrayRow = 3, Sequence = 4 };

// Fingerprint of `size` bytes at `data` in a domain (a seed that keeps kinds apart).
Fingerprint fingerprint_bytes(const void* data, size_t size, FingerprintDomain domain = FingerprintDomain::Bytes);

// Fingerprint of one integer value; collision-free among integers.
Fingerprint fingerprint_int64(int64_t value);

// Batch helpers, parallel over rows with `num_threads` threads (0 = default). Output row i is the
// fingerprint of input i.
void fingerprint_int64_batch(const int64_t* values, size_t n, Fingerprint* out, int num_threads);
// `n` rows of `row_bytes` bytes each, `stride` bytes apart.
void fingerprint_rows_batch(const uint8_t* data, size_t n, size_t row_bytes, size_t stride, Fingerprint* out,
                            int num_threads);
// Row i is the bytes [pointers[i], pointers[i] + sizes[i]). Rows of an array split into variable-length
// buffers (ragged token-id sequences) use FingerprintDomain::ArrayRow, so they match fingerprint_rows_batch.
void fingerprint_buffers_batch(const char* const* pointers, const size_t* sizes, size_t n, Fingerprint* out,
                               int num_threads, FingerprintDomain domain = FingerprintDomain::Bytes);

}  // namespace v0
}  // namespace graphgpo

// Open-addressing hash indexes used by the graph build: int64 id -> dense index and
// 128-bit fingerprint -> node id. Linear probing over a power-of-two table; keys are already well mixed
// (fingerprints) or mixed on the way in (ids), so the low bits make a good slot.
#pragma once

#include <cstdint>
#include <vector>

#include "graphgpo/fingerprint.hpp"

namespace graphgpo {
inline namespace v0 {

inline uint64_t mix_id(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

inline size_t table_capacity_for(size_t count) {
  size_t capacity = 16;
  while (capacity < count * 2) capacity <<= 1;
  return capacity;
}

// int64 id -> dense index in order of first insertion.
class IdIndex {
 public:
  explicit IdIndex(size_t expected = 16) { reset(expected); }
  void reset(size_t expected) {
    keys_.assign(table_capacity_for(expected), 0);
    values_.assign(keys_.size(), -1);
    size_ = 0;
  }
  // Returns {index, inserted}.
  std::pair<int64_t, bool> insert(int64_t id) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t mask = keys_.size() - 1;
    for (size_t slot = mix_id(static_cast<uint64_t>(id)) & mask;; slot = (slot + 1) & mask) {
      if (values_[slot] < 0) {
        keys_[slot] = id;
        values_[slot] = static_cast<int64_t>(size_);
        return {static_cast<int64_t>(size_++), true};
      }
      if (keys_[slot] == id) return {values_[slot], false};
    }
  }
  // The index of `id`, or -1 if it was never inserted.
  int64_t find(int64_t id) const {
    const size_t mask = keys_.size() - 1;
    for (size_t slot = mix_id(static_cast<uint64_t>(id)) & mask;; slot = (slot + 1) & mask) {
      if (values_[slot] < 0) return -1;
      if (keys_[slot] == id) return values_[slot];
    }
  }
  size_t size() const { return size_; }
  size_t capacity() const { return keys_.size(); }

 private:
  void grow() {
    std::vector<int64_t> keys = std::move(keys_);
    std::vector<int64_t> values = std::move(values_);
    keys_.assign(keys.size() * 2, 0);
    values_.assign(keys_.size(), -1);
    const size_t mask = keys_.size() - 1;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (values[i] < 0) continue;
      size_t slot = mix_id(static_cast<uint64_t>(keys[i])) & mask;
      while (values_[slot] >= 0) slot = (slot + 1) & mask;
      keys_[slot] = keys[i];
      values_[slot] = values[i];
    }
  }
  std::vector<int64_t> keys_;
  std::vector<int64_t> values_;
  size_t size_ = 0;
};

// Fingerprint -> node id. reset() is O(1) in the common case: slots carry the generation that filled
// them, so a new group only bumps the generation instead of clearing the table.
class FingerprintIndex {
 public:
  void reset(size_t expected) {
    const size_t capacity = table_capacity_for(expected);
    if (slots_.size() < capacity || slots_.size() > capacity * 16 || generation_ == UINT32_MAX) {
      slots_.assign(capacity, Slot{});
      generation_ = 0;
    }
    ++generation_;
    mask_ = slots_.size() - 1;
  }
  // Returns the node id of `key`, inserting `new_node` if absent.
  int32_t find_or_insert(const Fingerprint& key, int32_t new_node) {
    for (size_t slot = key.lo & mask_;; slot = (slot + 1) & mask_) {
      Slot& s = slots_[slot];
      if (s.generation != generation_) {
        s.key = key;
        s.node = new_node;
        s.generation = generation_;
        return new_node;
      }
      if (s.key == key) return s.node;
    }
  }

 private:
  struct Slot {
    Fingerprint key{0, 0};
    int32_t node = -1;
    uint32_t generation = 0;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t generation_ = 0;
};

}  // namespace v0
}  // namespace graphgpo

#include "graphgpo/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace graphgpo {
inline namespace v0 {
namespace {

inline uint32_t element_at(const TextRef& text, size_t i) {
  switch (text.width) {
    case 1:
      return static_cast<const uint8_t*>(text.data)[i];
    case 2: {
      uint16_t v;
      std::memcpy(&v, static_cast<const char*>(text.data) + 2 * i, 2);
      return v;
    }
    default: {
      uint32_t v;
      std::memcpy(&v, static_cast<const char*>(text.data) + 4 * i, 4);
      return v;
    }
  }
}

inline uint64_t mix32(uint32_t x) {
  uint64_t h = static_cast<uint64_t>(x) * 0x9E3779B97F4A7C15ULL;
  return h ^ (h >> 29);
}

}  // namespace

// ---------------------------------------------------------------------------------------------- Alphabet

void Alphabet::clear() {
  if (wide_count_ != 0) std::fill(slots_.begin(), slots_.end(), 0);
  wide_count_ = 0;
}

uint32_t Alphabet::wide_symbol(uint32_t value) {
  if ((wide_count_ + 1) * 2 > slots_.size()) {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(std::max<size_t>(64, old.size() * 2), 0);
    const size_t mask = slots_.size() - 1;
    for (uint64_t entry : old) {
      if (entry == 0) continue;
      size_t slot = mix32(static_cast<uint32_t>((entry >> 32) - 1)) & mask;
      while (slots_[slot] != 0) slot = (slot + 1) & mask;
      slots_[slot] = entry;
    }
  }
  const size_t mask = slots_.size() - 1;
  const uint64_t key = static_cast<uint64_t>(value) + 1;
  for (size_t slot = mix32(value) & mask;; slot = (slot + 1) & mask) {
    const uint64_t entry = slots_[slot];
    if (entry == 0) {
      const uint32_t symbol = 256 + static_cast<uint32_t>(wide_count_++);
      slots_[slot] = (key << 32) | symbol;
      return symbol;
    }
    if ((entry >> 32) == key) return static_cast<uint32_t>(entry);
  }
}

void Alphabet::encode(const TextRef& text, std::vector<uint32_t>& out) {
  out.resize(text.size);
  if (text.width == 1) {
    const auto* src = static_cast<const uint8_t*>(text.data);
    for (size_t i = 0; i < text.size; ++i) out[i] = src[i];
    return;
  }
  for (size_t i = 0; i < text.size; ++i) {
    const uint32_t v = element_at(text, i);
    out[i] = v < 256 ? v : wide_symbol(v);
  }
}

// --------------------------------------------------------------------------------------------- Scratch

void SimilarityScratch::ensure(uint32_t alphabet_size) {
  if (slot_of.size() < alphabet_size) {
    slot_of.resize(alphabet_size, -1);
    count_of.resize(alphabet_size, 0);
  }
}

// ------------------------------------------------------------------------------------------- Preparing

void prepare_text(const TextRef& raw, Alphabet& alphabet, PreparedText& text, SimilarityScratch& scratch) {
  alphabet.encode(raw, text.symbols);
  scratch.ensure(alphabet.size());
  text.distinct.clear();
  text.counts.clear();
  text.slot_begin.clear();
  text.positions.clear();
  text.indexed = false;
  // slot_of doubles as symbol -> histogram slot here; it is all -1 between calls.
  auto& slot_of = scratch.slot_of;
  for (uint32_t s : text.symbols) {
    int32_t& k = slot_of[s];
    if (k < 0) {
      k = static_cast<int32_t>(text.distinct.size());
      text.distinct.push_back(s);
      text.counts.push_back(0);
    }
    ++text.counts[static_cast<size_t>(k)];
  }
  for (uint32_t s : text.distinct) slot_of[s] = -1;
}

void index_second(PreparedText& text, SimilarityScratch& scratch) {
  if (text.indexed) return;
  const size_t n = text.symbols.size();
  const size_t k_count = text.distinct.size();
  // difflib: popular only when len(b) >= 200: more than len(b) // 100 + 1 occurrences.
  const bool autojunk = n >= 200;
  const size_t ntest = n / 100 + 1;
  text.slot_begin.assign(k_count + 1, 0);
  for (size_t k = 0; k < k_count; ++k) {
    const bool popular = autojunk && text.counts[k] > ntest;
    text.slot_begin[k + 1] = text.slot_begin[k] + (popular ? 0 : text.counts[k]);
  }
  text.positions.resize(text.slot_begin[k_count]);
  auto& slot_of = scratch.slot_of;
  for (size_t k = 0; k < k_count; ++k) slot_of[text.distinct[k]] = static_cast<int32_t>(k);
  // Cursor per slot: reuse count_of (all zero between calls) as "filled so far".
  auto& filled = scratch.count_of;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t s = text.symbols[j];
    const size_t k = static_cast<size_t>(slot_of[s]);
    const uint32_t at = text.slot_begin[k] + filled[s];
    if (at < text.slot_begin[k + 1]) {
      text.positions[at] = static_cast<uint32_t>(j);
      ++filled[s];
    }
  }
  for (uint32_t s : text.distinct) {
    slot_of[s] = -1;
    filled[s] = 0;
  }
  text.indexed = true;
}

// ------------------------------------------------------------------------------------------ Bounds

size_t needed_matches(size_t total, double threshold) {
  const double t = static_cast<double>(total);
  auto reaches = [&](size_t m) { return 2.0 * static_cast<double>(m) / t >= threshold; };
  size_t m = static_cast<size_t>(std::max(0.0, std::ceil(threshold * t / 2.0)));
  if (m > total) m = total;
  while (m > 0 && reaches(m - 1)) --m;
  while (!reaches(m)) ++m;
  return m;
}

void load_first(const PreparedText& first, SimilarityScratch& scratch) {
  for (size_t k = 0; k < first.distinct.size(); ++k) scratch.count_of[first.distinct[k]] = first.counts[k];
}

void unload_first(const PreparedText& first, SimilarityScratch& scratch) {
  for (uint32_t s : first.distinct) scratch.count_of[s] = 0;
}

size_t multiset_intersection(const PreparedText& second, const SimilarityScratch& scratch) {
  size_t total = 0;
  for (size_t k = 0; k < second.distinct.size(); ++k)
    total += std::min(second.counts[k], scratch.count_of[second.distinct[k]]);
  return total;
}

void load_second(const PreparedText& second, SimilarityScratch& scratch) {
  for (size_t k = 0; k < second.distinct.size(); ++k)
    if (second.slot_begin[k + 1] != second.slot_begin[k]) scratch.slot_of[second.distinct[k]] = static_cast<int32_t>(k);
}

void unload_second(const PreparedText& second, SimilarityScratch& scratch) {
  for (uint32_t s : second.distinct) scratch.slot_of[s] = -1;
}

// -------------------------------------------------------------------------------------- Matching blocks

namespace {

struct Match {
  size_t i, j, size;
};

// difflib's find_longest_match(alo, ahi, blo, bhi) with isjunk=None. `rows` lists, ascending, the
// positions i of a whose element is indexed in b, with its slot: the other rows find nothing in b2j and
// leave j2len empty, which the stamps below express without visiting them.
Match find_longest_match(const uint32_t* a, const PreparedText& second, size_t alo, size_t ahi, size_t blo,
                         size_t bhi, SimilarityScratch& scratch) {
  const uint32_t* b = second.symbols.data();
  const bool whole_b = blo == 0 && bhi == second.size();
  size_t besti = alo, bestj = blo, bestsize = 0;
  // j2len as stamped arrays indexed by j + 1: an entry is live for row i only if stamped with row i - 1's
  // stamp. Rows get consecutive stamps after a gap, so nothing from earlier calls is ever live.
  const uint64_t base = scratch.epoch + 2;
  scratch.epoch = base + (ahi - alo);
  uint64_t* stamp = scratch.stamp.data();
  uint32_t* run = scratch.run.data();
  const uint32_t* positions = second.positions.data();
  const uint32_t* slot_begin = second.slot_begin.data();
  const auto& rows = scratch.rows;
  auto r = std::lower_bound(rows.begin(), rows.end(), static_cast<uint32_t>(alo),
                            [](const SimilarityScratch::Row& row, uint32_t i) { return row.i < i; });
  for (; r != rows.end() && r->i < ahi; ++r) {
    const size_t i = r->i;
    const uint32_t* p_begin = positions + slot_begin[r->slot];
    const uint32_t* p_end = positions + slot_begin[r->slot + 1];
    if (!whole_b) {
      p_begin = std::lower_bound(p_begin, p_end, static_cast<uint32_t>(blo));
      p_end = std::lower_bound(p_begin, p_end, static_cast<uint32_t>(bhi));
    }
    const uint64_t row = base + (i - alo);
    // Descending j: each step reads slot j (position j - 1, last row) before any write of this row can
    // reach it. Python scans ascending and keeps the first strictly longer run, i.e. the smallest j of
    // the row's longest run: `>=` while descending ends on the same j.
    size_t row_max = 0, row_j = 0;
    for (const uint32_t* p = p_end; p != p_begin;) {
      const uint32_t j = *--p;
      const uint32_t len = stamp[j] == row - 1 ? run[j] + 1 : 1;
      stamp[j + 1] = row;
      run[j + 1] = len;
      if (len >= row_max) {
        row_max = len;
        row_j = j;
      }
    }
    if (row_max > bestsize) {
      besti = i + 1 - row_max;
      bestj = row_j + 1 - row_max;
      bestsize = row_max;
    }
  }
  // Extend over equal neighbours (popular ones included: with isjunk=None nothing is junk).
  while (besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1]) {
    --besti;
    --bestj;
    ++bestsize;
  }
  while (besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] == b[bestj + bestsize]) ++bestsize;
  return {besti, bestj, bestsize};
}

}  // namespace

size_t difflib_matches(const PreparedText& first, const PreparedText& second, SimilarityScratch& scratch,
                       size_t stop_at) {
  const size_t la = first.size(), lb = second.size();
  if (la == 0 || lb == 0) return 0;
  if (scratch.stamp.size() < lb + 1) {
    scratch.stamp.assign(lb + 1, 0);
    scratch.run.assign(lb + 1, 0);
    scratch.epoch = 0;
  }
  const uint32_t* a = first.symbols.data();
  auto& rows = scratch.rows;
  rows.clear();
  for (size_t i = 0; i < la; ++i) {
    const int32_t slot = scratch.slot_of[a[i]];
    if (slot >= 0) rows.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(slot)});
  }
  auto& stack = scratch.stack;
  stack.clear();
  auto bound = [](const SimilarityScratch::Piece& p) { return std::min(p.ahi - p.alo, p.bhi - p.blo); };
  stack.push_back({0, static_cast<uint32_t>(la), 0, static_cast<uint32_t>(lb)});
  size_t matches = 0;
  size_t pending = bound(stack.back());  // upper bound of what the pieces on the stack can still add
  while (!stack.empty()) {
    if (stop_at) {
      if (matches >= stop_at) return matches;
      if (matches + pending < stop_at) return matches + pending;
    }
    const SimilarityScratch::Piece p = stack.back();
    stack.pop_back();
    pending -= bound(p);
    const Match m = find_longest_match(a, second, p.alo, p.ahi, p.blo, p.bhi, scratch);
    if (m.size == 0) continue;
    matches += m.size;
    if (p.alo < m.i && p.blo < m.j) {
      stack.push_back({p.alo, static_cast<uint32_t>(m.i), p.blo, static_cast<uint32_t>(m.j)});
      pending += bound(stack.back());
    }
    if (m.i + m.size < p.ahi && m.j + m.size < p.bhi) {
      stack.push_back({static_cast<uint32_t>(m.i + m.size), p.ahi, static_cast<uint32_t>(m.j + m.size), p.bhi});
      pending += bound(stack.back());
    }
  }
  return matches;
}

// --------------------------------------------------------------------------------------------- One-offs

namespace {

struct OneOff {
  Alphabet alphabet;
  SimilarityScratch scratch;
  PreparedText a, b;
  void prepare(const TextRef& ra, const TextRef& rb) {
    alphabet.clear();
    prepare_text(ra, alphabet, a, scratch);
    prepare_text(rb, alphabet, b, scratch);
    index_second(b, scratch);
  }
};

}  // namespace

double difflib_ratio(const TextRef& ra, const TextRef& rb) {
  OneOff w;
  w.prepare(ra, rb);
  load_second(w.b, w.scratch);
  const size_t m = difflib_matches(w.a, w.b, w.scratch);
  unload_second(w.b, w.scratch);
  return ratio_from_matches(m, ra.size + rb.size);
}

bool difflib_similar(const TextRef& ra, const TextRef& rb, double threshold) {
  const size_t total = ra.size + rb.size;
  if (total == 0) return 1.0 >= threshold;
  const size_t need = needed_matches(total, threshold);
  if (std::min(ra.size, rb.size) < need) return false;
  OneOff w;
  w.prepare(ra, rb);
  load_first(w.a, w.scratch);
  const size_t upper = multiset_intersection(w.b, w.scratch);
  unload_first(w.a, w.scratch);
  if (upper < need) return false;
  if (need == 0) return true;
  load_second(w.b, w.scratch);
  const size_t m = difflib_matches(w.a, w.b, w.scratch, need);
  unload_second(w.b, w.scratch);
  return m >= need;
}

}  // namespace v0
}  // namespace graphgpo

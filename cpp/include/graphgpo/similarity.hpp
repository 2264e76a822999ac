// Python's difflib.SequenceMatcher(None, a, b).ratio(), exactly (SPEC "Merging similar states").
//
// The algorithm, as difflib documents and implements it (isjunk=None, autojunk=True):
// - b's index b2j maps each element to its positions in b. When len(b) >= 200, elements occurring more
//   than len(b) // 100 + 1 times are "popular" and left out of the index.
// - find_longest_match(alo, ahi, blo, bhi): the longest run a[i..i+k) == b[j..j+k) made only of indexed
//   elements; of the longest, the one ending first in a, then first in b (that is, starting first). That
//   run is then extended on both sides over equal elements, popular or not (a run of size 0 at (alo, blo)
//   is extended too).
// - get_matching_blocks: the longest match of the whole ranges, then recursively of the pieces left and
//   right of it. M = the total size of the blocks; ratio = 2.0 * M / (len(a) + len(b)), or 1.0 when both
//   are empty. The division is IEEE double, as in Python, so `ratio >= threshold` agrees bit for bit.
//
// Elements are symbols (uint32): byte values for bytes, code points for str, mapped by an Alphabet to dense
// ids shared by the texts of one comparison set. The mapping is injective, so equality is unchanged.
//
// Speed without changing a decision: needed_matches() turns `ratio >= threshold` into `M >= m`, which
// cheap exact upper bounds of M can refute (min(len a, len b), the multiset intersection: difflib's own
// real_quick_ratio and quick_ratio), and the block recursion can stop as soon as M is known to reach m or
// the pieces still to search cannot make it reach m.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace graphgpo {
inline namespace v0 {

// Text as the caller holds it: `size` elements of `width` bytes each (1: bytes or Latin-1 code points,
// 2: UCS-2, 4: UCS-4, native endianness). Elements compare by numeric value. At most 2^32 - 1 elements.
struct TextRef {
  const void* data = nullptr;
  size_t size = 0;
  uint32_t width = 1;
};

// Element values -> dense symbol ids. Values below 256 keep their value (bytes and Latin-1 text need no
// lookup); wider values get 256, 257, ... in order of first appearance.
class Alphabet {
 public:
  void clear();
  // Replaces `out` with the symbols of `text`.
  void encode(const TextRef& text, std::vector<uint32_t>& out);
  // One more than the largest symbol handed out so far.
  uint32_t size() const { return 256 + static_cast<uint32_t>(wide_count_); }

 private:
  uint32_t wide_symbol(uint32_t value);
  std::vector<uint64_t> slots_;  // open addressing: (value + 1) << 32 | symbol; 0 = empty
  size_t wide_count_ = 0;
};

// One text ready for comparisons: its symbols, its histogram (for quick bounds) and, once it serves as
// the second sequence, difflib's b2j without popular symbols.
struct PreparedText {
  std::vector<uint32_t> symbols;
  std::vector<uint32_t> distinct;  // distinct symbols, in order of first appearance
  std::vector<uint32_t> counts;    // occurrences of distinct[k]
  // b2j: positions of distinct[k] are positions[slot_begin[k] .. slot_begin[k + 1]), ascending; empty
  // for popular symbols. Filled by index_second().
  std::vector<uint32_t> slot_begin;
  std::vector<uint32_t> positions;
  bool indexed = false;

  size_t size() const { return symbols.size(); }
};

// Per-thread buffers, reused across comparisons (prepare_text sizes them for its alphabet). Between calls
// slot_of is all -1 and count_of all 0 except while a text is loaded.
class SimilarityScratch {
 public:
  void ensure(uint32_t alphabet_size);

  std::vector<int32_t> slot_of;   // per symbol: its slot in the loaded second text, or -1
  std::vector<uint32_t> count_of;  // per symbol: count in the loaded first text
  std::vector<uint64_t> stamp;    // DP row stamp per b position + 1
  std::vector<uint32_t> run;      // DP run length per b position + 1
  uint64_t epoch = 0;
  struct Piece {
    uint32_t alo, ahi, blo, bhi;
  };
  std::vector<Piece> stack;
  struct Row {
    uint32_t i, slot;  // a position of the first text whose element the second text indexes
  };
  std::vector<Row> rows;
};

// Fills `text`'s symbols from `raw` (through `alphabet`) and its histogram; clears any index.
void prepare_text(const TextRef& raw, Alphabet& alphabet, PreparedText& text, SimilarityScratch& scratch);

// Builds b2j (difflib's __chain_b with autojunk) for `text` as the second sequence. Idempotent.
void index_second(PreparedText& text, SimilarityScratch& scratch);

// The smallest m with 2.0 * m / total >= threshold, computed with the same double operations Python
// uses; total > 0 and 0 < threshold <= 1.
size_t needed_matches(size_t total, double threshold);

// Multiset intersection of the histograms of `first` (loaded with load_first) and `second`: an upper
// bound of M (difflib's quick_ratio numerator).
size_t multiset_intersection(const PreparedText& second, const SimilarityScratch& scratch);

// Scatter / clear per-symbol tables for one first text and one (indexed) second text.
void load_first(const PreparedText& first, SimilarityScratch& scratch);
void unload_first(const PreparedText& first, SimilarityScratch& scratch);
void load_second(const PreparedText& second, SimilarityScratch& scratch);
void unload_second(const PreparedText& second, SimilarityScratch& scratch);

// Total size of difflib's matching blocks of (first, second); `second` loaded with load_second.
// With stop_at > 0 the search may stop early: the result is then >= stop_at exactly when the full M is
// (it returns M itself when M < stop_at is proved early by a bound, or a partial M >= stop_at).
size_t difflib_matches(const PreparedText& first, const PreparedText& second, SimilarityScratch& scratch,
                       size_t stop_at = 0);

// ratio() from M and len(a) + len(b).
inline double ratio_from_matches(size_t matches, size_t total) {
  return total ? 2.0 * static_cast<double>(matches) / static_cast<double>(total) : 1.0;
}

// Whole-pipeline helpers for tests and one-off calls: exactly SequenceMatcher(None, a, b).ratio(), and
// whether it reaches `threshold` (decided with the bounds and early stops).
double difflib_ratio(const TextRef& a, const TextRef& b);
bool difflib_similar(const TextRef& a, const TextRef& b, double threshold);

}  // namespace v0
}  // namespace graphgpo

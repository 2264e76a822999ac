// Greedy first-fit merging of similar text states (SPEC "Merging similar states"), the decisions of the
// official GraphGPO recipe (StateCanonicalizer) and of verl-agent's similarity-based GiGPO step groups.
//
// Texts are offered one at a time, distinct ones only (the caller resolves exact repeats through
// fingerprints: a repeat is compared again by the official code, with the same outcome). A new text s is
// compared with the representatives in the order they were created; the first r with
// difflib.SequenceMatcher(None, s, r).ratio() >= threshold takes s; if none does, s becomes a new
// representative.
//
// Every decision is exact, made with cheap exact upper bounds first (difflib's real_quick_ratio and
// quick_ratio numerators), then the block recursion with early stops (similarity.hpp). Representatives keep
// their b2j index, built once. A merger is sequential by nature; callers run one per group, groups in
// parallel, and the result never depends on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "graphgpo/similarity.hpp"

namespace graphgpo {
inline namespace v0 {

// Counters of one merger's work (for diagnostics and benchmarks).
struct MergeStats {
  size_t texts = 0;            // texts offered
  size_t comparisons = 0;      // (text, representative) pairs decided
  size_t length_refuted = 0;   // ... refuted by the lengths alone
  size_t counts_refuted = 0;   // ... refuted by the multiset intersection
  size_t block_searches = 0;   // ... that needed difflib's block recursion
};

class SimilarMerger {
 public:
  // Starts a new comparison set (one group); `threshold` in (0, 1).
  void reset(double threshold);
  // Offers the next distinct text; returns the index of its representative in creation order.
  int32_t add(const TextRef& text);
  size_t num_representatives() const { return num_reps_; }
  const MergeStats& stats() const { return stats_; }

 private:
  bool similar(const PreparedText& candidate, const PreparedText& rep);

  double threshold_ = 0.95;
  Alphabet alphabet_;
  SimilarityScratch scratch_;
  PreparedText candidate_;
  std::vector<PreparedText> reps_;  // [0, num_reps_) live; the rest keep their buffers for reuse
  size_t num_reps_ = 0;
  MergeStats stats_;
};

}  // namespace v0
}  // namespace graphgpo

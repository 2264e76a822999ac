#include "graphgpo/state_merge.hpp"

#include <algorithm>
#include <utility>

namespace graphgpo {
inline namespace v0 {

void SimilarMerger::reset(double threshold) {
  threshold_ = threshold;
  alphabet_.clear();
  num_reps_ = 0;
  stats_ = MergeStats{};
}

bool SimilarMerger::similar(const PreparedText& s, const PreparedText& r) {
  ++stats_.comparisons;
  const size_t total = s.size() + r.size();
  if (total == 0) return 1.0 >= threshold_;  // difflib: two empty sequences have ratio 1.0
  const size_t need = needed_matches(total, threshold_);
  if (std::min(s.size(), r.size()) < need) {
    ++stats_.length_refuted;
    return false;
  }
  if (multiset_intersection(r, scratch_) < need) {  // s is loaded as the first text
    ++stats_.counts_refuted;
    return false;
  }
  if (need == 0) return true;
  ++stats_.block_searches;
  load_second(r, scratch_);
  const size_t matches = difflib_matches(s, r, scratch_, need);
  unload_second(r, scratch_);
  return matches >= need;
}

int32_t SimilarMerger::add(const TextRef& text) {
  ++stats_.texts;
  prepare_text(text, alphabet_, candidate_, scratch_);
  load_first(candidate_, scratch_);
  int32_t found = -1;
  for (size_t k = 0; k < num_reps_; ++k) {
    if (similar(candidate_, reps_[k])) {
      found = static_cast<int32_t>(k);
      break;
    }
  }
  unload_first(candidate_, scratch_);
  if (found >= 0) return found;
  index_second(candidate_, scratch_);
  if (reps_.size() <= num_reps_) reps_.emplace_back();
  std::swap(reps_[num_reps_], candidate_);
  return static_cast<int32_t>(num_reps_++);
}

}  // namespace v0
}  // namespace graphgpo

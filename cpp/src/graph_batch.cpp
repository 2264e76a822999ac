#include "graphgpo/graph_batch.hpp"

#include <algorithm>
#include <sstream>

#include "graphgpo/distances.hpp"
#include "graphgpo/error.hpp"
#include "graphgpo/parallel.hpp"
#include "graphgpo/version.h"

namespace graphgpo {
inline namespace v0 {

GraphBatch build_graph_batch(const BatchView& batch, const Options& options) {
  validate_options(options);
  GraphBatch out;
  out.num_rows = batch.n;
  NodeMerging merging;
  merging.similar = options.merge == Merge::Similar;
  merging.threshold = options.similarity;
  if (merging.similar) validate_texts(batch);
  out.layout = validate_and_layout(batch, options.distance == DistanceKind::Expected, options.num_threads);
  const size_t num_groups = out.layout.num_groups();
  out.graphs.resize(num_groups);
  out.distances.resize(num_groups);
  out.unreachable_distance.resize(num_groups);
  const int threads = resolve_num_threads(options.num_threads, batch.n / (merging.similar ? 32 : 4096));
  FirstRowError error;
  parallel_for(num_groups, 1, threads, [&](size_t begin, size_t end) {
    GraphScratch graph_scratch;
    DistanceScratch distance_scratch;
    for (size_t g = begin; g < end; ++g) {
      try {
        build_group_graph(batch, out.layout, g, out.graphs[g], graph_scratch, /*with_reverse=*/true, merging);
        out.unreachable_distance[g] =
            compute_distances(out.graphs[g], batch, options.distance, out.distances[g], distance_scratch);
      } catch (const RowError& e) {
        error.offer(e);  // the lowest row wins, whatever the thread count
      }
    }
  });
  error.rethrow();
  return out;
}

const char* version_string() { return GRAPHGPO_VERSION_STRING; }

int abi_version() { return 1; }

const std::string& build_info_json() {
  static const std::string info = [] {
    std::ostringstream s;
    s << "{\"version\": \"" << GRAPHGPO_VERSION_STRING << "\", \"abi_version\": " << abi_version()
      << ", \"compiler\": \"";
#if defined(__clang__)
    s << "clang " << __clang_major__ << "." << __clang_minor__ << "." << __clang_patchlevel__;
#elif defined(__GNUC__)
    s << "gcc " << __GNUC__ << "." << __GNUC_MINOR__ << "." << __GNUC_PATCHLEVEL__;
#else
    s << "unknown";
#endif
    s << "\", \"cxx_standard\": " << __cplusplus << ", \"threads\": " << default_num_threads()
      << ", \"cuda\": " <<
#ifdef GRAPHGPO_WITH_CUDA
        "true"
#else
        "false"
#endif
      << ", \"debug\": " <<
#ifdef NDEBUG
        "false"
#else
        "true"
#endif
      << "}";
    return s.str();
  }();
  return info;
}

}  // namespace v0
}  // namespace graphgpo

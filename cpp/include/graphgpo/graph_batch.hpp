// All group graphs of a batch, kept for inspection (diagnostics, export, the C handle API).
#pragma once

#include <string>
#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/graph.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

struct GraphBatch {
  BatchLayout layout;
  std::vector<GroupGraph> graphs;             // one per group, in order of first appearance
  std::vector<std::vector<double>> distances;  // per group, per node (see distances.hpp)
  std::vector<double> unreachable_distance;    // per group: D
  size_t num_rows = 0;
};

// Validates like compute_advantages, then builds every group's graph and distances in parallel
// (options.distance, merge, similarity and num_threads are used; the others are ignored). With
// merge="similar" the nodes are the representatives, as graphgpo's distances see them.
GraphBatch build_graph_batch(const BatchView& batch, const Options& options);

// Version and build facts, the same strings the C ABI returns.
const char* version_string();
int abi_version();
const std::string& build_info_json();

}  // namespace v0
}  // namespace graphgpo

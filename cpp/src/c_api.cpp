// The C ABI: every function is wrapped in one guard that turns C++ exceptions into status codes and a
// thread-local message, so no exception ever crosses the C boundary.
#include "graphgpo/graphgpo.h"

#include <cstring>
#include <new>
#include <string>

#include "graphgpo/error.hpp"
#include "graphgpo/estimator_registry.hpp"
#include "graphgpo/estimators.hpp"
#include "graphgpo/fingerprint.hpp"
#include "graphgpo/graph_batch.hpp"
#include "graphgpo/option_schema.hpp"

struct graphgpo_graphs {
  graphgpo::GraphBatch batch;
};

namespace {

thread_local std::string last_error;

static_assert(sizeof(graphgpo_fingerprint_t) == sizeof(graphgpo::Fingerprint), "fingerprint layouts must match");

template <typename Body>
graphgpo_status_t guarded(Body body) {
  try {
    body();
    last_error.clear();
    return GRAPHGPO_OK;
  } catch (const graphgpo::Error& e) {
    last_error = e.what();
    switch (e.code()) {
      case graphgpo::ErrorCode::InvalidArgument: return GRAPHGPO_INVALID_ARGUMENT;
      case graphgpo::ErrorCode::TypeMismatch: return GRAPHGPO_TYPE_ERROR;
      case graphgpo::ErrorCode::OutOfMemory: return GRAPHGPO_OUT_OF_MEMORY;
      case graphgpo::ErrorCode::NotCompiledWithCuda: return GRAPHGPO_NOT_COMPILED_WITH_CUDA;
      default: return GRAPHGPO_INTERNAL;
    }
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return GRAPHGPO_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error = std::string("internal error: ") + e.what();
    return GRAPHGPO_INTERNAL;
  } catch (...) {
    last_error = "internal error";
    return GRAPHGPO_INTERNAL;
  }
}

void require(const void* pointer, const char* name) {
  if (!pointer) graphgpo::fail(std::string(name) + " must not be NULL");
}

const graphgpo::Fingerprint* as_fingerprints(const graphgpo_fingerprint_t* f) {
  return reinterpret_cast<const graphgpo::Fingerprint*>(f);
}

graphgpo::BatchView make_view(size_t n, const int64_t* group, const int64_t* trajectory,
                              const graphgpo_fingerprint_t* state, const graphgpo_fingerprint_t* next_state,
                              const uint8_t* success, const uint8_t* valid, const double* reward, const double* cost,
                              const int64_t* action) {
  if (n > 0) {
    require(group, "group");
    require(trajectory, "trajectory");
    require(state, "state");
    require(success, "success");
  }
  graphgpo::BatchView b;
  b.n = n;
  b.group = group;
  b.trajectory = trajectory;
  b.state = as_fingerprints(state);
  b.next_state = as_fingerprints(next_state);
  b.success = success;
  b.valid = valid;
  b.reward = reward;
  b.cost = cost;
  b.action = action;
  return b;
}

const graphgpo::GraphBatch& graphs_of(const graphgpo_graphs_t* h, size_t g) {
  require(h, "graphs");
  if (g >= h->batch.graphs.size())
    graphgpo::fail("group index " + std::to_string(g) + " out of range (" + std::to_string(h->batch.graphs.size()) +
                   " groups)");
  return h->batch;
}

void copy_csr(const graphgpo::GroupGraph& graph, bool forward, int64_t* offsets, int64_t* other, int64_t* rows) {
  const auto& off = forward ? graph.out_offsets : graph.in_offsets;
  const auto& edges = forward ? graph.out_edges : graph.in_edges;
  const auto& endpoint = forward ? graph.edge_dst : graph.edge_src;
  if (offsets) std::memcpy(offsets, off.data(), off.size() * sizeof(int64_t));
  for (size_t k = 0; k < edges.size(); ++k) {
    const size_t e = static_cast<size_t>(edges[k]);
    if (other) other[k] = endpoint[e];
    if (rows) rows[k] = graph.edge_row[e];
  }
}

}  // namespace

extern "C" {

const char* graphgpo_version(void) { return graphgpo::version_string(); }
int graphgpo_abi_version(void) { return graphgpo::abi_version(); }
const char* graphgpo_build_info(void) { return graphgpo::build_info_json().c_str(); }
const char* graphgpo_last_error(void) { return last_error.c_str(); }
const char* graphgpo_option_schema(void) { return graphgpo::option_schema_json().c_str(); }
const char* graphgpo_estimators(void) { return graphgpo::estimator_registry_json().c_str(); }

int graphgpo_cuda_available(void) {
#ifdef GRAPHGPO_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

graphgpo_status_t graphgpo_fingerprint_bytes(const void* data, size_t size, graphgpo_fingerprint_t* out) {
  return guarded([&] {
    require(out, "out");
    if (size > 0) require(data, "data");
    const auto f = graphgpo::fingerprint_bytes(data, size);
    out->lo = f.lo;
    out->hi = f.hi;
  });
}

graphgpo_status_t graphgpo_fingerprint_strings(const char* const* strings, const size_t* sizes, size_t n,
                                               graphgpo_fingerprint_t* out) {
  return guarded([&] {
    if (n == 0) return;
    require(strings, "strings");
    require(sizes, "sizes");
    require(out, "out");
    for (size_t i = 0; i < n; ++i)
      if (!strings[i] && sizes[i] > 0) graphgpo::fail("strings[" + std::to_string(i) + "] is NULL");
    graphgpo::fingerprint_buffers_batch(strings, sizes, n, reinterpret_cast<graphgpo::Fingerprint*>(out), 0);
  });
}

graphgpo_status_t graphgpo_fingerprint_int64(const int64_t* values, size_t n, graphgpo_fingerprint_t* out) {
  return guarded([&] {
    if (n == 0) return;
    require(values, "values");
    require(out, "out");
    graphgpo::fingerprint_int64_batch(values, n, reinterpret_cast<graphgpo::Fingerprint*>(out), 0);
  });
}

graphgpo_status_t graphgpo_advantages(const char* method, size_t n, const int64_t* group, const int64_t* trajectory,
                                      const graphgpo_fingerprint_t* state, const graphgpo_fingerprint_t* next_state,
                                      const uint8_t* success, const uint8_t* valid, const double* reward,
                                      const double* cost, const int64_t* action, const char* options_json,
                                      double* out) {
  return guarded([&] {
    require(method, "method");
    const graphgpo::Method m = graphgpo::parse_method(method);
    const graphgpo::Options options = graphgpo::parse_options_json(options_json ? options_json : "");
    if (n > 0) require(out, "out");
    const auto view = make_view(n, group, trajectory, state, next_state, success, valid, reward, cost, action);
    const std::vector<double> result = graphgpo::compute_advantages(m, view, options);
    if (n > 0) std::memcpy(out, result.data(), n * sizeof(double));  // only after everything succeeded
  });
}

graphgpo_status_t graphgpo_graphs_build(size_t n, const int64_t* group, const int64_t* trajectory,
                                        const graphgpo_fingerprint_t* state, const graphgpo_fingerprint_t* next_state,
                                        const uint8_t* success, const double* cost, const int64_t* action,
                                        const char* options_json, graphgpo_graphs_t** out) {
  return guarded([&] {
    require(out, "out");
    const graphgpo::Options options = graphgpo::parse_options_json(options_json ? options_json : "");
    const auto view = make_view(n, group, trajectory, state, next_state, success, nullptr, nullptr, cost, action);
    auto* handle = new graphgpo_graphs{graphgpo::build_graph_batch(view, options)};
    *out = handle;
  });
}

void graphgpo_graphs_free(graphgpo_graphs_t* graphs) { delete graphs; }

graphgpo_status_t graphgpo_graphs_num_groups(const graphgpo_graphs_t* graphs, size_t* out) {
  return guarded([&] {
    require(graphs, "graphs");
    require(out, "out");
    *out = graphs->batch.graphs.size();
  });
}

graphgpo_status_t graphgpo_graphs_group_info(const graphgpo_graphs_t* graphs, size_t g, int64_t* group_id,
                                             int64_t* num_nodes, int64_t* num_edges) {
  return guarded([&] {
    const auto& batch = graphs_of(graphs, g);
    if (group_id) *group_id = batch.layout.group_ids[g];
    if (num_nodes) *num_nodes = batch.graphs[g].num_nodes();
    if (num_edges) *num_edges = batch.graphs[g].num_edges();
  });
}

graphgpo_status_t graphgpo_graphs_csr(const graphgpo_graphs_t* graphs, size_t g, int64_t* offsets, int64_t* targets,
                                      int64_t* rows) {
  return guarded([&] { copy_csr(graphs_of(graphs, g).graphs[g], true, offsets, targets, rows); });
}

graphgpo_status_t graphgpo_graphs_reverse_csr(const graphgpo_graphs_t* graphs, size_t g, int64_t* offsets,
                                              int64_t* sources, int64_t* rows) {
  return guarded([&] { copy_csr(graphs_of(graphs, g).graphs[g], false, offsets, sources, rows); });
}

graphgpo_status_t graphgpo_graphs_distances(const graphgpo_graphs_t* graphs, size_t g, double* out) {
  return guarded([&] {
    const auto& d = graphs_of(graphs, g).distances[g];
    require(out, "out");
    std::memcpy(out, d.data(), d.size() * sizeof(double));
  });
}

graphgpo_status_t graphgpo_graphs_nodes(const graphgpo_graphs_t* graphs, size_t g, uint8_t* kinds,
                                        graphgpo_fingerprint_t* states) {
  return guarded([&] {
    const auto& graph = graphs_of(graphs, g).graphs[g];
    for (size_t v = 0; v < graph.node_kind.size(); ++v) {
      if (kinds) kinds[v] = static_cast<uint8_t>(graph.node_kind[v]);
      if (states) {
        states[v].lo = graph.node_state[v].lo;
        states[v].hi = graph.node_state[v].hi;
      }
    }
  });
}

}  // extern "C"

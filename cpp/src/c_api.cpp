// The C ABI: every function is wrapped in one guard that turns C++ exceptions into status codes and a
// thread-local message, so no exception ever crosses the C boundary.
#include "graphgpo/graphgpo.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "graphgpo/error.hpp"
#include "graphgpo/estimator_registry.hpp"
#include "graphgpo/estimators.hpp"
#include "graphgpo/fingerprint.hpp"
#include "graphgpo/graph_batch.hpp"
#include "graphgpo/memory.hpp"
#include "graphgpo/option_schema.hpp"

struct graphgpo_graphs {
  graphgpo::GraphBatch batch;
};

struct graphgpo_memory {
  std::unique_ptr<graphgpo::GraphMemory> memory;
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
      case graphgpo::ErrorCode::Io: return GRAPHGPO_IO_ERROR;
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

// A graphgpo_batch_t as the library knows it: the caller's first struct_size bytes, the rest zero.
graphgpo_batch_t read_batch(const graphgpo_batch_t* batch) {
  require(batch, "batch");
  if (batch->struct_size < offsetof(graphgpo_batch_t, n) + sizeof(size_t))
    graphgpo::fail("batch->struct_size must be set to sizeof(graphgpo_batch_t)");
  graphgpo_batch_t b;
  std::memset(&b, 0, sizeof(b));
  std::memcpy(&b, batch, std::min(batch->struct_size, sizeof(b)));
  return b;
}

// Strict UTF-8 (what Python's bytes.decode("utf-8") accepts) to code points; false if invalid.
bool decode_utf8(const unsigned char* s, size_t size, std::vector<uint32_t>& out) {
  size_t i = 0;
  while (i < size) {
    const unsigned c = s[i];
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    unsigned lo = 0x80, hi = 0xBF;  // bounds of the second byte (overlongs, surrogates, > U+10FFFF)
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > size) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned d = s[i + k];
      if (d < (k == 1 ? lo : 0x80u) || d > (k == 1 ? hi : 0xBFu)) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return true;
}

// Texts and fingerprints of one state column of a graphgpo_batch_t, owned for the duration of a call.
struct TextColumn {
  std::vector<graphgpo::TextRef> refs;
  std::vector<uint32_t> code_points;        // text_encoding 1: all rows' code points, back to back
  std::vector<graphgpo::Fingerprint> fingerprints;  // when the caller gave texts but no fingerprints

  void load(size_t n, const char* const* text, const size_t* size, int32_t encoding, bool need_fingerprints,
            const char* name) {
    require(text, name);
    require(size, (std::string(name) + "_size").c_str());
    refs.resize(n);
    std::vector<size_t> begin;
    if (encoding == 1) begin.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (!text[i] && size[i] > 0) graphgpo::fail(std::string(name) + "[" + std::to_string(i) + "] is NULL");
      if (encoding == 1) {
        begin[i] = code_points.size();
        if (!decode_utf8(reinterpret_cast<const unsigned char*>(text[i]), size[i], code_points))
          graphgpo::fail("row " + std::to_string(i) + ": " + name + " is not valid UTF-8");
      } else {
        refs[i] = graphgpo::TextRef{text[i], size[i], 1};
      }
    }
    if (encoding == 1) {
      for (size_t i = 0; i < n; ++i) {
        const size_t end = i + 1 < n ? begin[i + 1] : code_points.size();
        refs[i] = graphgpo::TextRef{code_points.data() + begin[i], end - begin[i], 4};
      }
    }
    if (need_fingerprints) {
      fingerprints.resize(n);
      graphgpo::fingerprint_buffers_batch(text, size, n, fingerprints.data(), 0);
    }
  }
};

// The engine's view of a graphgpo_batch_t, with decoded texts and derived fingerprints kept alive here.
struct BatchInput {
  graphgpo::BatchView view;
  TextColumn state_text, next_state_text;

  explicit BatchInput(const graphgpo_batch_t* caller) {
    const graphgpo_batch_t b = read_batch(caller);
    const bool texts = b.state_text || b.state_text_size;
    if (b.text_encoding != 0 && b.text_encoding != 1) graphgpo::fail("batch->text_encoding must be 0 or 1");
    view = make_view(b.n, b.group, b.trajectory, b.state ? b.state : (texts ? kPlaceholder : nullptr),
                     b.next_state, b.success, b.valid, b.reward, b.cost, b.action);
    view.task = b.task;  // graph memory task keys (the engine refuses them without a memory)
    if (b.n == 0) return;
    if (texts) {
      state_text.load(b.n, b.state_text, b.state_text_size, b.text_encoding, !b.state, "state_text");
      view.state_text = state_text.refs.data();
      if (!b.state) view.state = state_text.fingerprints.data();
    }
    if (b.next_state_text || b.next_state_text_size) {
      if (!texts) graphgpo::fail("batch->next_state_text needs state_text");
      next_state_text.load(b.n, b.next_state_text, b.next_state_text_size, b.text_encoding, !b.next_state,
                           "next_state_text");
      view.next_state_text = next_state_text.refs.data();
      if (!b.next_state) view.next_state = next_state_text.fingerprints.data();
    }
  }

  static const graphgpo_fingerprint_t kPlaceholder[1];  // passes make_view's NULL check; replaced above
};

const graphgpo_fingerprint_t BatchInput::kPlaceholder[1] = {{0, 0}};

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

graphgpo_status_t graphgpo_advantages_batch(const char* method, const graphgpo_batch_t* batch, const char* options_json,
                                            graphgpo_memory_t* memory, double* out) {
  return guarded([&] {
    require(method, "method");
    const graphgpo::Method m = graphgpo::parse_method(method);
    const graphgpo::Options options = graphgpo::parse_options_json(options_json ? options_json : "");
    const BatchInput input(batch);
    if (input.view.n > 0) require(out, "out");
    const std::vector<double> result =
        graphgpo::compute_advantages(m, input.view, options, memory ? memory->memory.get() : nullptr);
    if (input.view.n > 0) std::memcpy(out, result.data(), input.view.n * sizeof(double));
  });
}

graphgpo_status_t graphgpo_graphs_build_batch(const graphgpo_batch_t* batch, const char* options_json,
                                              graphgpo_graphs_t** out) {
  return guarded([&] {
    require(out, "out");
    const graphgpo::Options options = graphgpo::parse_options_json(options_json ? options_json : "");
    const BatchInput input(batch);
    if (input.view.task) graphgpo::fail("batch->task is only used by graphgpo_advantages_batch with a memory");
    auto* handle = new graphgpo_graphs{graphgpo::build_graph_batch(input.view, options)};
    *out = handle;
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

graphgpo_status_t graphgpo_memory_create(const char* options_json, graphgpo_memory_t** out) {
  return guarded([&] {
    require(out, "out");
    const graphgpo::MemoryBounds bounds = graphgpo::parse_memory_options_json(options_json ? options_json : "");
    *out = new graphgpo_memory{std::make_unique<graphgpo::GraphMemory>(bounds)};
  });
}

void graphgpo_memory_free(graphgpo_memory_t* memory) { delete memory; }

graphgpo_status_t graphgpo_memory_save(const graphgpo_memory_t* memory, const char* path) {
  return guarded([&] {
    require(memory, "memory");
    require(path, "path");
    memory->memory->save(path);
  });
}

graphgpo_status_t graphgpo_memory_load(const char* path, graphgpo_memory_t** out) {
  return guarded([&] {
    require(path, "path");
    require(out, "out");
    *out = new graphgpo_memory{graphgpo::GraphMemory::load(path)};
  });
}

graphgpo_status_t graphgpo_memory_stats(const graphgpo_memory_t* memory, uint64_t* tasks, uint64_t* edges,
                                        uint64_t* bytes, uint64_t* calls) {
  return guarded([&] {
    require(memory, "memory");
    const graphgpo::MemoryStats s = memory->memory->stats();
    if (tasks) *tasks = s.tasks;
    if (edges) *edges = s.edges;
    if (bytes) *bytes = s.bytes;
    if (calls) *calls = s.calls;
  });
}

}  // extern "C"

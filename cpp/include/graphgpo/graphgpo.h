/*
 * graphgpo C ABI (C11). Stable across releases: functions are only ever added, options travel as JSON so
 * new options never change a signature, and graphs are opaque handles.
 *
 * Conventions
 * - Every function returns a graphgpo_status_t. On failure, graphgpo_last_error() returns a message for the
 *   calling thread (valid until its next graphgpo call) and nothing is written to the caller's outputs.
 * - Arrays are borrowed for the duration of the call; optional arrays may be NULL.
 * - Rows follow SPEC "Input": group and trajectory ids, one fingerprint per state, success/valid as 0/1.
 * - Results never depend on the number of threads.
 */
#ifndef GRAPHGPO_GRAPHGPO_H
#define GRAPHGPO_GRAPHGPO_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define GRAPHGPO_API __declspec(dllexport)
#else
#define GRAPHGPO_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes. @since 0.1 */
typedef enum graphgpo_status {
  GRAPHGPO_OK = 0,
  GRAPHGPO_INVALID_ARGUMENT = 1, /* bad rows, options, method; the message names the first bad row */
  GRAPHGPO_TYPE_ERROR = 2,      /* an input of the wrong kind: merge="similar" without state texts */
  GRAPHGPO_OUT_OF_MEMORY = 3,
  GRAPHGPO_NOT_COMPILED_WITH_CUDA = 4, /* reserved: no C function runs on a GPU yet, so none returns it;
                                          a future device entry point will, in a build without CUDA */
  GRAPHGPO_INTERNAL = 5,
  GRAPHGPO_IO_ERROR = 6 /* a file could not be read or written (graph memory save/load); @since 0.2 */
} graphgpo_status_t;

/** A 128-bit state fingerprint (see graphgpo_fingerprint_*). @since 0.1 */
typedef struct graphgpo_fingerprint {
  uint64_t lo;
  uint64_t hi;
} graphgpo_fingerprint_t;

/** Opaque batch of per-group graphs. @since 0.1 */
typedef struct graphgpo_graphs graphgpo_graphs_t;

/** Library version, "MAJOR.MINOR.PATCH". @since 0.1 */
GRAPHGPO_API const char* graphgpo_version(void);
/** ABI version; bumped only on an incompatible change. @since 0.1 */
GRAPHGPO_API int graphgpo_abi_version(void);
/** JSON object: version, abi_version, compiler, cxx_standard, threads, cuda, debug. @since 0.1 */
GRAPHGPO_API const char* graphgpo_build_info(void);
/** Message of the last failed call on this thread ("" if none). @since 0.1 */
GRAPHGPO_API const char* graphgpo_last_error(void);
/**
 * JSON description of every option graphgpo_advantages accepts in options_json:
 * {"options": [{"name", "type" ("number", "integer", "boolean" or "choice"), "default", "choices" (choice),
 * "min", "max", "min_open", "max_open" (bounded numbers), "null_is_default", "scope", "used_by" (the methods
 * that read it), "doc"}, ...]}. Static storage, never NULL. @since 0.2
 */
GRAPHGPO_API const char* graphgpo_option_schema(void);
/**
 * JSON description of every method graphgpo_advantages accepts: {"estimators": [{"name", "summary", "scopes"
 * (the option scopes it reads), "builds_graph", "needs_reverse_csr", "merges_graph_nodes", "supports_cuda",
 * "supports_memory"}, ...]}. Static storage, never NULL. @since 0.2
 */
GRAPHGPO_API const char* graphgpo_estimators(void);

/** Fingerprint of a byte string (text as UTF-8). @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_fingerprint_bytes(const void* data, size_t size, graphgpo_fingerprint_t* out);
/** Fingerprints of n byte strings: string i is strings[i][0 .. sizes[i]). @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_fingerprint_strings(const char* const* strings, const size_t* sizes, size_t n,
                                                            graphgpo_fingerprint_t* out);
/** Fingerprints of n integer states. @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_fingerprint_int64(const int64_t* values, size_t n, graphgpo_fingerprint_t* out);

/**
 * Advantages of n rows. method: a name from graphgpo_estimators() ("grpo", "gigpo", "graphgpo", "progpo";
 * progpo @since 0.2). Required: group, trajectory, state, success,
 * out (n doubles). Optional (NULL): next_state, valid, reward, cost, action. options_json: a JSON object of
 * SPEC options (NULL or "" for defaults), e.g. {"omega": 0.5, "distance": "expected", "num_threads": 2}.
 * A next_state entry of {0, 0} (never a real fingerprint) means "no next state" for that row: the next row's
 * state, or for a trajectory's last row SPEC's rule (SUCCESS, or a terminal node of its own).
 * @since 0.1
 */
GRAPHGPO_API graphgpo_status_t graphgpo_advantages(const char* method, size_t n, const int64_t* group,
                                                   const int64_t* trajectory, const graphgpo_fingerprint_t* state,
                                                   const graphgpo_fingerprint_t* next_state, const uint8_t* success,
                                                   const uint8_t* valid, const double* reward, const double* cost,
                                                   const int64_t* action, const char* options_json, double* out);

/** Opaque graph memory across calls (SPEC "Graph memory across calls"). @since 0.2 */
typedef struct graphgpo_memory graphgpo_memory_t;

/**
 * A batch of rows for the entry points that take one (append-only: later versions add fields at the end).
 * Set struct_size to sizeof(graphgpo_batch_t) as you compiled it; the library reads only the first
 * struct_size bytes and treats fields past them as NULL / 0. Arrays hold n entries; optional ones may be NULL.
 * @since 0.2
 */
typedef struct graphgpo_batch {
  size_t struct_size;                 /* sizeof(graphgpo_batch_t) as the caller compiled it */
  size_t n;                           /* rows */
  const int64_t* group;               /* task group id per row */
  const int64_t* trajectory;          /* trajectory id per row; rows contiguous and in step order */
  const graphgpo_fingerprint_t* state;      /* state fingerprints; may be NULL when state_text is given:
                                               then the fingerprint of each text's bytes */
  const graphgpo_fingerprint_t* next_state; /* optional; likewise from next_state_text */
  const uint8_t* success;             /* 0/1, constant per trajectory */
  const uint8_t* valid;               /* optional, 0/1 (default all valid) */
  const double* reward;               /* optional per-step reward */
  const double* cost;                 /* optional edge cost > 0 (default 1) */
  const int64_t* action;              /* optional action id (distance "expected") */
  const int64_t* task;                /* optional: memory task key per row (default: the group id) */
  /* merge "similar" (SPEC "Merging similar states"): the text of each state, text i being
     state_text[i][0 .. state_text_size[i]) bytes. Needed by gigpo and graphgpo with merge "similar". */
  const char* const* state_text;
  const size_t* state_text_size;
  const char* const* next_state_text; /* optional; needed when next states are given */
  const size_t* next_state_text_size;
  int32_t text_encoding;              /* 0: bytes, compared as bytes; 1: UTF-8, compared as code points
                                         (Python str semantics; invalid UTF-8 is an error naming the row) */
} graphgpo_batch_t;

/**
 * Advantages of a batch (see graphgpo_batch_t) into out (batch->n doubles). method and options_json as for
 * graphgpo_advantages, plus {"merge": "similar", "similarity": 0.95} with texts. memory: NULL for none.
 * @since 0.2
 */
GRAPHGPO_API graphgpo_status_t graphgpo_advantages_batch(const char* method, const graphgpo_batch_t* batch,
                                                         const char* options_json, graphgpo_memory_t* memory,
                                                         double* out);

/**
 * Graph memory (SPEC "Graph memory across calls"): per task, the distinct edges of earlier calls, so each
 * group's graph in graphgpo_advantages_batch(..., memory, ...) is its rows plus its task's stored edges
 * (method "graphgpo", distance "shortest", merge "exact"; batch->task gives each row's task, default the
 * group id). The memory stores a call's edges only when the call succeeds; calls on one memory from several
 * threads run one after the other.
 *
 * Create one; options_json (NULL or "" for unbounded):
 * {"max_edges_per_task": int|null, "max_edges": int|null, "max_age": int|null}, integers >= 0.
 * @since 0.2
 */
GRAPHGPO_API graphgpo_status_t graphgpo_memory_create(const char* options_json, graphgpo_memory_t** out);
/** Free a memory (NULL is fine). @since 0.2 */
GRAPHGPO_API void graphgpo_memory_free(graphgpo_memory_t* memory);
/**
 * Save to path: a versioned file with a checksum, written to a temporary file beside it, flushed (fsync)
 * and renamed, so a crash leaves the old file or the new one. GRAPHGPO_IO_ERROR if it cannot be written.
 * @since 0.2
 */
GRAPHGPO_API graphgpo_status_t graphgpo_memory_save(const graphgpo_memory_t* memory, const char* path);
/**
 * Load a saved memory (bounds included) into a new handle. GRAPHGPO_INVALID_ARGUMENT for a truncated,
 * corrupt or foreign file, GRAPHGPO_IO_ERROR if it cannot be read. @since 0.2
 */
GRAPHGPO_API graphgpo_status_t graphgpo_memory_load(const char* path, graphgpo_memory_t** out);
/** Tasks holding edges, stored edges, bytes held, and calls so far; any output may be NULL. @since 0.2 */
GRAPHGPO_API graphgpo_status_t graphgpo_memory_stats(const graphgpo_memory_t* memory, uint64_t* tasks,
                                                     uint64_t* edges, uint64_t* bytes, uint64_t* calls);

/** Build the graphs of a batch (see graphgpo_batch_t; options: distance, merge, similarity, num_threads).
 * With merge "similar" the state nodes are the representatives. @since 0.2 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_build_batch(const graphgpo_batch_t* batch, const char* options_json,
                                                           graphgpo_graphs_t** out);

/** Build the graphs of a batch (same rows as graphgpo_advantages; options: distance, num_threads). @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_build(size_t n, const int64_t* group, const int64_t* trajectory,
                                                     const graphgpo_fingerprint_t* state,
                                                     const graphgpo_fingerprint_t* next_state, const uint8_t* success,
                                                     const double* cost, const int64_t* action,
                                                     const char* options_json, graphgpo_graphs_t** out);
/** Free a handle (NULL is fine). @since 0.1 */
GRAPHGPO_API void graphgpo_graphs_free(graphgpo_graphs_t* graphs);
/** Number of groups, in order of first appearance. @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_num_groups(const graphgpo_graphs_t* graphs, size_t* out);
/** Group g's id, node count (SUCCESS + states + terminals) and edge count (= its rows). @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_group_info(const graphgpo_graphs_t* graphs, size_t g, int64_t* group_id,
                                                          int64_t* num_nodes, int64_t* num_edges);
/**
 * Group g's forward CSR: offsets (num_nodes + 1), and for each edge in CSR order its target node and its row
 * in the batch. Node 0 is SUCCESS. Any output pointer may be NULL to skip it. @since 0.1
 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_csr(const graphgpo_graphs_t* graphs, size_t g, int64_t* offsets,
                                                   int64_t* targets, int64_t* rows);
/** Same for the reverse CSR (edges grouped by target; sources[k] is the source node). @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_reverse_csr(const graphgpo_graphs_t* graphs, size_t g, int64_t* offsets,
                                                           int64_t* sources, int64_t* rows);
/** Distance to SUCCESS of each node of group g (num_nodes doubles). @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_distances(const graphgpo_graphs_t* graphs, size_t g, double* out);
/** Kind (0 state, 1 SUCCESS, 2 terminal) and fingerprint ({0,0} unless a state) of each node. @since 0.1 */
GRAPHGPO_API graphgpo_status_t graphgpo_graphs_nodes(const graphgpo_graphs_t* graphs, size_t g, uint8_t* kinds,
                                                     graphgpo_fingerprint_t* states);

/** Whether this build has CUDA kernels (0 or 1). @since 0.1 */
GRAPHGPO_API int graphgpo_cuda_available(void);

#ifdef __cplusplus
}
#endif

#endif /* GRAPHGPO_GRAPHGPO_H */

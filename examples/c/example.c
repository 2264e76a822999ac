/* SPEC worked example 1 through the C ABI: fingerprint text states, compute GraphGPO advantages, inspect
 * the graph, and show the error path.
 *
 *   LIB="$(python -c 'import graphgpo; print(graphgpo.get_library())')"
 *   cc -std=c11 example.c -I"$(python -c 'import graphgpo; print(graphgpo.get_include())')" "$LIB" \
 *      -Wl,-rpath,"$(dirname "$LIB")" -o example
 *
 * (-Wl,-rpath lets ./example find libgraphgpo.so inside the installed package at run time; the CMake
 * route in CMakeLists.txt next to this file does the same by itself.)
 */
#include <graphgpo/graphgpo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 9

static graphgpo_fingerprint_t text_fingerprint(const char* text) {
  graphgpo_fingerprint_t f;
  if (graphgpo_fingerprint_bytes(text, strlen(text), &f) != GRAPHGPO_OK) {
    fprintf(stderr, "fingerprint failed: %s\n", graphgpo_last_error());
    exit(1);
  }
  return f;
}

int main(int argc, char** argv) {
  const char* method = argc > 1 ? argv[1] : "graphgpo";
  const char* options = argc > 2 ? argv[2] : "{\"omega\": 0.5}";
  const char* states[ROWS] = {"A", "B", "C", "A", "C", "A", "D", "B", "B"};
  const char* next_states[ROWS] = {"B", "C", "X", "C", "Y", "D", "B", "B", "C"};
  const int64_t group[ROWS] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  const int64_t trajectory[ROWS] = {0, 0, 0, 1, 1, 2, 2, 2, 2};
  const uint8_t success[ROWS] = {1, 1, 1, 1, 1, 0, 0, 0, 0};
  const uint8_t valid[ROWS] = {1, 1, 1, 1, 1, 1, 0, 1, 1};
  graphgpo_fingerprint_t state[ROWS], next_state[ROWS];
  for (int i = 0; i < ROWS; ++i) {
    state[i] = text_fingerprint(states[i]);
    next_state[i] = text_fingerprint(next_states[i]);
  }

  printf("graphgpo %s (abi %d)\n", graphgpo_version(), graphgpo_abi_version());
  double advantages[ROWS];
  graphgpo_status_t status = graphgpo_advantages(method, ROWS, group, trajectory, state, next_state, success, valid,
                                                 NULL, NULL, NULL, options, advantages);
  if (status != GRAPHGPO_OK) {
    fprintf(stderr, "error %d: %s\n", (int)status, graphgpo_last_error());
    return 1;
  }
  printf("advantages:");
  for (int i = 0; i < ROWS; ++i) printf(" %.9f", advantages[i]);
  printf("\n");

  graphgpo_graphs_t* graphs = NULL;
  status = graphgpo_graphs_build(ROWS, group, trajectory, state, next_state, success, NULL, NULL, NULL, &graphs);
  if (status != GRAPHGPO_OK) {
    fprintf(stderr, "error %d: %s\n", (int)status, graphgpo_last_error());
    return 1;
  }
  int64_t group_id = 0, num_nodes = 0, num_edges = 0;
  graphgpo_graphs_group_info(graphs, 0, &group_id, &num_nodes, &num_edges);
  double* distances = malloc((size_t)num_nodes * sizeof(double));
  graphgpo_graphs_distances(graphs, 0, distances);
  printf("group %lld: %lld nodes, %lld edges, distances:", (long long)group_id, (long long)num_nodes,
         (long long)num_edges);
  for (int64_t v = 0; v < num_nodes; ++v) printf(" %g", distances[v]);
  printf("\n");
  free(distances);
  graphgpo_graphs_free(graphs);

  /* Bad input: the status says what kind, the message says which row. */
  const uint8_t bad_success[ROWS] = {1, 0, 1, 1, 1, 0, 0, 0, 0};
  status = graphgpo_advantages(method, ROWS, group, trajectory, state, next_state, bad_success, valid, NULL, NULL,
                               NULL, options, advantages);
  printf("bad input -> status %d: %s\n", (int)status, graphgpo_last_error());
  return status == GRAPHGPO_INVALID_ARGUMENT ? 0 : 1;
}

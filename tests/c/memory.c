/* Graph memory through the C ABI (C11): SPEC's example, save/load, stats, and errors.
 * Usage: memory DIR   (files are written in DIR). Prints "call N: a b c ..." lines and "error ..." lines. */
#include <stdio.h>
#include <string.h>

#include <graphgpo/graphgpo.h>

static graphgpo_fingerprint_t fp(const char* s) {
  graphgpo_fingerprint_t f;
  graphgpo_fingerprint_bytes(s, strlen(s), &f);
  return f;
}

static int check(graphgpo_status_t status, const char* what) {
  if (status != GRAPHGPO_OK) {
    fprintf(stderr, "%s failed: status %d: %s\n", what, (int)status, graphgpo_last_error());
    return 1;
  }
  return 0;
}

static void print_row(const char* label, const double* out, size_t n) {
  printf("%s:", label);
  for (size_t i = 0; i < n; ++i) printf(" %.9f", out[i]);
  printf("\n");
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  char path[4096], bad_path[4096];
  snprintf(path, sizeof path, "%s/memory.ggm", argv[1]);
  snprintf(bad_path, sizeof bad_path, "%s/foreign.bin", argv[1]);

  /* SPEC's example, task 7. Call 1: t0: A->B, B->W (success); t1: A->C (failed). */
  const int64_t group1[] = {0, 0, 0}, traj1[] = {0, 0, 1}, task1[] = {7, 7, 7};
  const uint8_t success1[] = {1, 1, 0};
  graphgpo_fingerprint_t state1[3], next1[3];
  state1[0] = fp("A"); state1[1] = fp("B"); state1[2] = fp("A");
  next1[0] = fp("B"); next1[1] = fp("W"); next1[2] = fp("C");
  /* Call 2: t0: A->B, B->D (failed); t1: A->C, C->C, C->E (failed). */
  const int64_t group2[] = {0, 0, 0, 0, 0}, traj2[] = {0, 0, 1, 1, 1}, task2[] = {7, 7, 7, 7, 7};
  const uint8_t success2[] = {0, 0, 0, 0, 0};
  graphgpo_fingerprint_t state2[5], next2[5];
  state2[0] = fp("A"); state2[1] = fp("B"); state2[2] = fp("A"); state2[3] = fp("C"); state2[4] = fp("C");
  next2[0] = fp("B"); next2[1] = fp("D"); next2[2] = fp("C"); next2[3] = fp("C"); next2[4] = fp("E");

  graphgpo_batch_t call1;
  memset(&call1, 0, sizeof call1);
  call1.struct_size = sizeof call1;
  call1.n = 3;
  call1.group = group1;
  call1.trajectory = traj1;
  call1.state = state1;
  call1.next_state = next1;
  call1.success = success1;
  call1.task = task1;
  graphgpo_batch_t call2 = call1;
  call2.n = 5;
  call2.group = group2;
  call2.trajectory = traj2;
  call2.state = state2;
  call2.next_state = next2;
  call2.success = success2;
  call2.task = task2;
  const char* options = "{\"omega\": 0.5}";

  graphgpo_memory_t* memory = NULL;
  if (check(graphgpo_memory_create("{\"max_edges_per_task\": 100, \"max_edges\": null}", &memory), "create")) return 1;
  double out1[3], out2[5];
  if (check(graphgpo_advantages_batch("graphgpo", &call1, options, memory, out1), "call 1")) return 1;
  print_row("call 1", out1, 3);
  if (check(graphgpo_memory_save(memory, path), "save")) return 1;
  if (check(graphgpo_advantages_batch("graphgpo", &call2, options, memory, out2), "call 2")) return 1;
  print_row("call 2", out2, 5);
  uint64_t tasks = 0, edges = 0, bytes = 0, calls = 0;
  if (check(graphgpo_memory_stats(memory, &tasks, &edges, &bytes, &calls), "stats")) return 1;
  printf("stats: %llu tasks, %llu edges, %llu calls, bytes %s\n", (unsigned long long)tasks,
         (unsigned long long)edges, (unsigned long long)calls, bytes > 0 ? "> 0" : "0");

  /* The saved memory (after call 1) gives call 2 the same advantages. */
  graphgpo_memory_t* loaded = NULL;
  if (check(graphgpo_memory_load(path, &loaded), "load")) return 1;
  if (check(graphgpo_advantages_batch("graphgpo", &call2, options, loaded, out2), "call 2 after load")) return 1;
  print_row("call 2 after load", out2, 5);
  graphgpo_memory_free(loaded);

  /* A caller compiled before `task` existed: the library reads only struct_size bytes (task = group id). */
  graphgpo_batch_t old = call1;
  old.struct_size = offsetof(graphgpo_batch_t, task);
  old.task = task2; /* past struct_size: ignored */
  graphgpo_memory_t* fresh = NULL;
  if (check(graphgpo_memory_create(NULL, &fresh), "create unbounded")) return 1;
  if (check(graphgpo_advantages_batch("graphgpo", &old, options, fresh, out1), "old struct")) return 1;
  print_row("old struct", out1, 3);

  /* Errors: status and message; outputs untouched, memory unchanged. */
  double untouched[5] = {7, 7, 7, 7, 7};
  graphgpo_status_t s;
  s = graphgpo_advantages_batch("gigpo", &call2, options, memory, untouched);
  printf("error gigpo with memory: %d %s\n", (int)s, graphgpo_last_error());
  s = graphgpo_advantages_batch("graphgpo", &call2, "{\"distance\": \"expected\"}", memory, untouched);
  printf("error expected distance: %d %s\n", (int)s, graphgpo_last_error());
  s = graphgpo_advantages_batch("graphgpo", &call2, options, NULL, untouched);
  printf("error task without memory: %d %s\n", (int)s, graphgpo_last_error());
  const int64_t split_task[] = {7, 7, 7, 8, 8};
  call2.task = split_task;
  s = graphgpo_advantages_batch("graphgpo", &call2, options, memory, untouched);
  printf("error task not constant: %d %s\n", (int)s, graphgpo_last_error());
  printf("untouched: %g %g\n", untouched[0], untouched[4]);
  graphgpo_memory_t* none = NULL;
  s = graphgpo_memory_create("{\"max_age\": -1}", &none);
  printf("error bad bound: %d %s\n", (int)s, graphgpo_last_error());
  s = graphgpo_memory_create("{\"max_size\": 3}", &none);
  printf("error unknown option: %d %s\n", (int)s, graphgpo_last_error());
  s = graphgpo_memory_load(bad_path, &none);
  printf("error missing file: %d\n", (int)s);
  FILE* f = fopen(bad_path, "wb");
  fputs("not a memory at all, just some text that is long enough to be read as a header ........", f);
  fclose(f);
  s = graphgpo_memory_load(bad_path, &none);
  printf("error foreign file: %d %s\n", (int)s, graphgpo_last_error());
  if (check(graphgpo_memory_stats(memory, &tasks, &edges, NULL, &calls), "stats after errors")) return 1;
  printf("after errors: %llu edges, %llu calls\n", (unsigned long long)edges, (unsigned long long)calls);
  graphgpo_memory_free(fresh);
  graphgpo_memory_free(memory);
  graphgpo_memory_free(NULL);
  return 0;
}

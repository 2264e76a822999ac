// A fuzz driver for the C ABI (graphgpo.h) and the options JSON parser behind it, written against the
// public header and library only (so it runs against any build: the ASan/UBSan job in .ci/run, or the
// installed wheel in tests/test_fuzz_corpus.py).
//
// One input is a byte string, decoded into a short sequence of calls: advantages (old and batch-struct entry
// points) with rows full of special numbers, NULLs, corrupt runs and random methods; the graph handle API;
// graph memory handles (calls that feed them, stats, save, load, loads of damaged files); fingerprints;
// and options texts that are structured, mutated or random bytes. After every call it
// checks the ABI's promises and aborts on the first broken one:
//   - the status is a graphgpo_status_t; graphgpo_last_error() is "" after success and a message after failure;
//   - on failure nothing is written to the outputs (canaries);
//   - a successful call's advantages are finite (finite inputs never give inf/NaN), and equal, bit for bit,
//     on 1 and 4 threads and through graphgpo_advantages_batch;
//   - graph handles describe consistent CSR arrays, node kinds and finite distances;
//   - a failed call with a graph memory leaves it unchanged; a saved memory loads back with the same edges;
//     a damaged file loads as an error (or a valid memory), never a crash.
// Memory errors and undefined behaviour are the sanitizers' to report.
//
//   fuzz_c_abi replay PATH...                 run the inputs in files (directories: every file in them)
//   fuzz_c_abi fuzz [--seed S] [--runs N] [--seconds T] [--corpus DIR] [--save DIR]
//       random inputs from a fixed seed, half of them mutations of the corpus; --save writes inputs that
//       reach a new outcome (call, status, shape of the message) to DIR. A violation writes the input to
//       ./crash-<hash> before aborting.
//   fuzz_c_abi distill OUT PATH...            the smallest inputs of PATH... that reach all their outcomes
#include "graphgpo/graphgpo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <limits>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
extern "C" void __sanitizer_set_death_callback(void (*callback)(void));
#endif

namespace {

// ---------------------------------------------------------------------------------------------------------
// The input being run, for crash reports.

const std::vector<uint8_t>* g_current = nullptr;

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

void save_current_input() {
  if (!g_current) return;
  char name[64];
  std::snprintf(name, sizeof name, "crash-%016llx", static_cast<unsigned long long>(fnv1a(g_current->data(), g_current->size())));
  if (FILE* f = std::fopen(name, "wb")) {
    if (!g_current->empty()) std::fwrite(g_current->data(), 1, g_current->size(), f);
    std::fclose(f);
    std::fprintf(stderr, "fuzz_c_abi: input written to %s\n", name);
  }
}

[[noreturn]] void violation(const char* format, ...) {
  std::fprintf(stderr, "fuzz_c_abi: VIOLATION: ");
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fprintf(stderr, "\n  last error: %s\n", graphgpo_last_error());
  save_current_input();
  std::abort();
}

// ---------------------------------------------------------------------------------------------------------
// Decoding: every read takes the next bytes, zeros once the input is exhausted (so any input is valid).

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t byte() { return pos_ < n_ ? p_[pos_++] : 0; }
  uint32_t u32() {
    uint32_t x = 0;
    for (int k = 0; k < 4; ++k) x = (x << 8) | byte();
    return x;
  }
  uint64_t u64() { return (static_cast<uint64_t>(u32()) << 32) | u32(); }
  size_t below(size_t k) { return k == 0 ? 0 : (k <= 256 ? byte() % k : u32() % k); }
  bool chance(unsigned percent) { return byte() % 100 < percent; }
  bool exhausted() const { return pos_ >= n_; }

  double number() {
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 10.0, 1e-6, 1e-300, 5e-324, -5e-324,
                                     2.2250738585072014e-308, 1e300, 1e307, 1e308, -1e308, 1.7976931348623157e308,
                                     -1.7976931348623157e308, std::numeric_limits<double>::infinity(),
                                     -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
                                     0.1, 0.95, 3.0, 400.0, 1e5};
    switch (below(4)) {
      case 0: return special[below(sizeof special / sizeof special[0])];
      case 1: return static_cast<double>(static_cast<int>(below(21)) - 10);
      case 2: {
        const uint64_t bits = u64();
        double x;
        std::memcpy(&x, &bits, sizeof x);
        return x;
      }
      default: return static_cast<double>(u32()) / 1000.0 * (chance(30) ? -1.0 : 1.0);
    }
  }

  int64_t id() {
    static const int64_t special[] = {0, 1, 2, 3, -1, INT64_MIN, INT64_MAX, 1LL << 32, -(1LL << 40)};
    return chance(85) ? static_cast<int64_t>(below(5)) : special[below(sizeof special / sizeof special[0])];
  }

  std::string bytes(size_t max) {
    const size_t len = below(max + 1);
    std::string out;
    for (size_t i = 0; i < len; ++i) out += static_cast<char>(byte());
    return out;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// Outcomes: the call, its status and the shape of its message (digits and quoted text removed), for
// saving inputs that reach something new.

std::set<std::string>* g_outcomes = nullptr;
bool g_new_outcome = false;

void record(const char* call, graphgpo_status_t status) {
  if (!g_outcomes) return;
  // The message without what its quotes enclose (from the first quote to the last: callers' text may
  // hold quotes itself) and without digits, so that new values of the same error are not new outcomes.
  const std::string message = graphgpo_last_error();
  const size_t open = message.find('\''), close = message.rfind('\'');
  const std::string unquoted = open == std::string::npos ? message : message.substr(0, open) + message.substr(close + 1);
  std::string shape = std::string(call) + ":" + std::to_string(static_cast<int>(status)) + ":";
  for (char c : unquoted)
    if (!(c >= '0' && c <= '9') && shape.size() < 140) shape += c;
  g_new_outcome |= g_outcomes->insert(shape).second;
}

void check_status(const char* call, graphgpo_status_t status) {
  const int s = static_cast<int>(status);
  if (s < GRAPHGPO_OK || s > GRAPHGPO_IO_ERROR) violation("%s returned status %d", call, s);
  const char* message = graphgpo_last_error();
  if (!message) violation("%s: graphgpo_last_error() is NULL", call);
  if (status == GRAPHGPO_OK && message[0] != '\0') violation("%s succeeded but left the message '%s'", call, message);
  if (status != GRAPHGPO_OK && message[0] == '\0') violation("%s failed (status %d) without a message", call, s);
  if (status == GRAPHGPO_INTERNAL) violation("%s: internal error '%s'", call, message);
  record(call, status);
}

// ---------------------------------------------------------------------------------------------------------
// Options texts.

const char* const kOptionNames[] = {"omega", "gamma", "success_reward", "invalid_penalty", "step_weight",
                                    "episode_weight", "norm", "eps", "convention", "episode_stats",
                                    "normalize_distance", "distance", "num_threads", "merge", "similarity"};
const char* const kChoices[] = {"mean_std", "mean", "reference", "paper", "per_step", "per_trajectory", "shortest",
                                "expected", "exact", "similar", "zscore", ""};

std::string json_number(Input& in) {
  static const char* const tokens[] = {"0", "-0", "1", "0.5", "5e-1", "1e-12", "0.999999", "1e308", "1e999", "-1e999",
                                       "1e-400", "NaN", "Infinity", "-Infinity", "2", "4096", "4097", "-1", "2.0",
                                       "1.5", "00", "0x10", "1.", ".5", "+1", "1e", "0,5", "123456789012345678901234567890"};
  if (in.chance(60)) return tokens[in.below(sizeof tokens / sizeof tokens[0])];
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", in.number());
  return buffer;  // may be nan/inf (not JSON): fine, the reader must refuse them
}

std::string json_string(Input& in) {
  static const char* const escapes[] = {"\\n", "\\\"", "\\\\", "\\/", "\\u0041", "\\u00e9", "\\ud83d\\ude00", "\\ud800",
                                        "\\udc00", "\\u12", "\\x", "\xc3\xa9", "\xff", "\xed\xa0\x80", "\t"};
  std::string out = "\"";
  if (in.chance(50)) out += kChoices[in.below(sizeof kChoices / sizeof kChoices[0])];
  for (size_t k = in.below(3); k > 0; --k) out += escapes[in.below(sizeof escapes / sizeof escapes[0])];
  if (!in.chance(3)) out += "\"";
  return out;
}

std::string json_value(Input& in, int depth = 0) {
  switch (in.below(depth < 2 ? 9 : 7)) {
    case 0:
    case 1:
    case 2: return json_number(in);
    case 3: return json_string(in);
    case 4: return in.chance(50) ? "true" : "false";
    case 5: return "null";
    case 6: return kChoices[in.below(sizeof kChoices / sizeof kChoices[0])];  // unquoted word
    case 7: return "[" + json_value(in, depth + 1) + "]";
    default: return "{\"a\": " + json_value(in, depth + 1) + "}";
  }
}

struct OptionsText {
  std::string text;
  bool is_null = false;
  bool structured = false;  // members we wrote, so num_threads can be appended
};

OptionsText options_text(Input& in) {
  OptionsText o;
  const size_t kind = in.below(10);
  if (kind == 0) {
    o.is_null = true;
    return o;
  }
  if (kind == 1) {
    o.text = in.bytes(24);  // raw bytes (cut at the first NUL by the C string)
    return o;
  }
  std::string body;
  const size_t members = in.below(5);
  for (size_t m = 0; m < members; ++m) {
    if (m) body += in.chance(97) ? ", " : " ";
    const std::string name = in.chance(90) ? kOptionNames[in.below(sizeof kOptionNames / sizeof kOptionNames[0])]
                                           : in.bytes(6);
    body += (in.chance(97) ? "\"" + name + "\"" : name) + (in.chance(97) ? ": " : " ") + json_value(in);
  }
  o.text = (in.chance(98) ? "{" : "") + body + (in.chance(98) ? "}" : "");
  o.structured = kind >= 4;
  if (kind == 2 || kind == 3) {  // mutate a few bytes of the structured text
    for (size_t k = in.below(4) + 1; k > 0 && !o.text.empty(); --k) {
      const size_t at = in.below(o.text.size());
      switch (in.below(3)) {
        case 0: o.text[at] = static_cast<char>(in.byte()); break;
        case 1: o.text.erase(at, 1); break;
        default: o.text.insert(at, 1, static_cast<char>(in.byte()));
      }
    }
  }
  return o;
}

// The same members plus "num_threads" (for a text we wrote as "{...}" without a num_threads member).
std::string with_threads(const std::string& text, int threads) {
  const size_t open = text.find('{');
  const size_t close = text.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return text;
  const bool empty = text.find_first_not_of(" \t\r\n", open + 1) == close;
  return text.substr(0, close) + (empty ? "" : ", ") + "\"num_threads\": " + std::to_string(threads) + text.substr(close);
}

// ---------------------------------------------------------------------------------------------------------
// Rows.

struct Rows {
  size_t n = 0;
  std::vector<int64_t> group, trajectory, action;
  std::vector<graphgpo_fingerprint_t> state, next_state;
  std::vector<uint8_t> success, valid;
  std::vector<double> reward, cost;
  bool has_next = false, has_valid = false, has_reward = false, has_cost = false, has_action = false;
  bool null_group = false, null_trajectory = false, null_state = false, null_success = false;
  // Texts for merge="similar" (batch entry point only).
  std::vector<std::string> text, next_text;
  std::vector<const char*> text_ptr, next_text_ptr;
  std::vector<size_t> text_size, next_text_size;
  bool has_text = false, has_next_text = false, null_text_row = false;
  int32_t encoding = 0;
  std::vector<int64_t> task;  // memory task keys (batch entry point)
  bool has_task = false;

  const int64_t* g() const { return null_group ? nullptr : group.data(); }
  const int64_t* t() const { return null_trajectory ? nullptr : trajectory.data(); }
  const graphgpo_fingerprint_t* s() const { return null_state ? nullptr : state.data(); }
  const graphgpo_fingerprint_t* ns() const { return has_next ? next_state.data() : nullptr; }
  const uint8_t* ok() const { return null_success ? nullptr : success.data(); }
  const uint8_t* v() const { return has_valid ? valid.data() : nullptr; }
  const double* r() const { return has_reward ? reward.data() : nullptr; }
  const double* c() const { return has_cost ? cost.data() : nullptr; }
  const int64_t* a() const { return has_action ? action.data() : nullptr; }
};

graphgpo_fingerprint_t state_of(Input& in) {
  if (in.chance(90)) return graphgpo_fingerprint_t{in.below(6) + 1, 0};  // few states: shared nodes, loops
  if (in.chance(50)) return graphgpo_fingerprint_t{0, 0};
  return graphgpo_fingerprint_t{in.u64(), in.u64()};
}

Rows make_rows(Input& in) {
  Rows b;
  const size_t shape = in.below(20);
  b.n = shape == 0 ? 0 : shape < 17 ? in.below(24) + 1 : in.below(600) + 1;
  // Mostly well-formed runs (so the estimators run), sometimes corrupted.
  int64_t traj = static_cast<int64_t>(in.below(3)), group = in.id();
  uint8_t ok = in.byte() & 1;
  size_t left = 0;
  for (size_t i = 0; i < b.n; ++i) {
    if (left == 0) {
      left = in.below(6) + 1;
      traj += in.chance(95) ? 1 : -2;  // -2: a split run now and then
      if (in.chance(40)) group = in.id();
      ok = in.chance(97) ? static_cast<uint8_t>(in.byte() & 1) : in.byte();
    }
    --left;
    b.group.push_back(in.chance(2) ? in.id() : group);
    b.trajectory.push_back(in.chance(1) ? in.id() : traj);
    b.success.push_back(in.chance(2) ? in.byte() : ok);
    b.state.push_back(state_of(in));
    b.next_state.push_back(state_of(in));
    b.valid.push_back(in.chance(80) ? 1 : (in.chance(50) ? 0 : in.byte()));
    b.reward.push_back(in.chance(70) ? static_cast<double>(in.below(3)) : in.number());
    b.cost.push_back(in.chance(70) ? 1.0 + static_cast<double>(in.below(3)) : in.number());
    b.action.push_back(in.chance(90) ? static_cast<int64_t>(in.below(3)) : in.id());
  }
  b.has_next = in.chance(40);
  b.has_valid = in.chance(50);
  b.has_reward = in.chance(50);
  b.has_cost = in.chance(40);
  b.has_action = in.chance(60);
  b.null_group = in.chance(3);
  b.null_trajectory = in.chance(3);
  b.null_state = in.chance(3);
  b.null_success = in.chance(3);
  b.has_task = in.chance(15);
  for (size_t i = 0; i < b.n; ++i) b.task.push_back(in.chance(90) ? static_cast<int64_t>(in.below(3)) : in.id());
  if (in.chance(35)) {
    b.has_text = true;
    b.has_next_text = in.chance(40);
    b.encoding = in.chance(95) ? static_cast<int32_t>(in.below(2)) : static_cast<int32_t>(in.u32());
    static const char* const texts[] = {"room 1", "room 2", "room 1!", "kitchen", "", "caf\xc3\xa9", "\xff\xfe", "a"};
    for (size_t i = 0; i < b.n; ++i) {
      b.text.push_back(in.chance(85) ? texts[in.below(8)] : in.bytes(12));
      b.next_text.push_back(in.chance(85) ? texts[in.below(8)] : in.bytes(12));
    }
    for (size_t i = 0; i < b.n; ++i) {
      b.text_ptr.push_back(b.text[i].data());
      b.text_size.push_back(b.text[i].size());
      b.next_text_ptr.push_back(b.next_text[i].data());
      b.next_text_size.push_back(b.next_text[i].size());
    }
    if (b.n && in.chance(5)) {  // a NULL text with a size: must be refused, never read
      b.null_text_row = true;
      b.text_ptr[in.below(b.n)] = nullptr;
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// The calls.

constexpr uint64_t kCanary = 0x7FF4DEADBEEF1234ULL;  // a signalling-NaN pattern no result can equal

struct Canaried {
  std::vector<double> values;
  explicit Canaried(size_t n) : values(n + 2) {
    for (double& v : values) std::memcpy(&v, &kCanary, sizeof v);
  }
  double* data() { return values.data() + 1; }
  bool guards_intact() const { return is_canary(values.front()) && is_canary(values.back()); }
  bool untouched() const {
    for (double v : values)
      if (!is_canary(v)) return false;
    return true;
  }
  static bool is_canary(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return bits == kCanary;
  }
};

const char* method_of(Input& in, std::string& storage) {
  static const char* const methods[] = {"grpo", "gigpo", "graphgpo", "progpo", "gigpo", "", "GRPO", "graphgpo "};
  const size_t k = in.below(10);
  if (k == 9) return nullptr;
  if (k == 8) {
    storage = in.bytes(10);
    return storage.c_str();
  }
  return methods[k];
}

graphgpo_batch_t make_batch(const Rows& b) {
  graphgpo_batch_t batch;
  std::memset(&batch, 0, sizeof batch);
  batch.struct_size = sizeof batch;
  batch.n = b.n;
  batch.group = b.g();
  batch.trajectory = b.t();
  batch.state = b.s();
  batch.next_state = b.ns();
  batch.success = b.ok();
  batch.valid = b.v();
  batch.reward = b.r();
  batch.cost = b.c();
  batch.action = b.a();
  batch.task = b.has_task ? b.task.data() : nullptr;
  if (b.has_text) {
    batch.state_text = b.text_ptr.data();
    batch.state_text_size = b.text_size.data();
    if (b.has_next_text) {
      batch.next_state_text = b.next_text_ptr.data();
      batch.next_state_text_size = b.next_text_size.data();
    }
    batch.text_encoding = b.encoding;
  }
  return batch;
}

void check_advantages_result(const char* call, graphgpo_status_t status, const Canaried& out, size_t n) {
  check_status(call, status);
  if (!out.guards_intact()) violation("%s wrote outside out[0 .. n)", call);
  if (status != GRAPHGPO_OK) {
    if (!out.untouched()) violation("%s failed but wrote to out", call);
    return;
  }
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(out.values[i + 1])) violation("%s: advantage %zu is %g with status OK", call, i, out.values[i + 1]);
}

bool same_bits(const Canaried& x, const Canaried& y) {
  return std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(double)) == 0;
}

void call_advantages(Input& in) {
  const Rows b = make_rows(in);
  std::string method_storage;
  const char* method = method_of(in, method_storage);
  const OptionsText options = options_text(in);
  const char* options_json = options.is_null ? nullptr : options.text.c_str();
  const bool null_out = in.chance(2);
  Canaried out(b.n);
  const graphgpo_status_t status =
      graphgpo_advantages(method, b.n, b.g(), b.t(), b.s(), b.ns(), b.ok(), b.v(), b.r(), b.c(), b.a(), options_json,
                          null_out ? nullptr : out.data());
  check_advantages_result("graphgpo_advantages", status, out, b.n);
  if (status != GRAPHGPO_OK || !options.structured || options.text.find("num_threads") != std::string::npos) return;
  // Same bits on 1 and 4 threads, and through the batch entry point.
  for (int threads : {1, 4}) {
    const std::string text = with_threads(options.text, threads);
    Canaried again(b.n);
    const graphgpo_status_t s = graphgpo_advantages(method, b.n, b.g(), b.t(), b.s(), b.ns(), b.ok(), b.v(), b.r(),
                                                    b.c(), b.a(), text.c_str(), again.data());
    check_advantages_result("graphgpo_advantages (threads)", s, again, b.n);
    if (s != GRAPHGPO_OK) violation("ok with '%s' but status %d with '%s'", options.text.c_str(), s, text.c_str());
    if (!same_bits(out, again)) violation("results differ on %d threads (options '%s')", threads, options.text.c_str());
  }
  graphgpo_batch_t plain = make_batch(b);
  plain.state_text = nullptr;
  plain.state_text_size = nullptr;
  plain.next_state_text = nullptr;
  plain.next_state_text_size = nullptr;
  plain.text_encoding = 0;
  plain.task = nullptr;
  Canaried via_batch(b.n);
  const graphgpo_status_t s = graphgpo_advantages_batch(method, &plain, options_json, nullptr, via_batch.data());
  check_advantages_result("graphgpo_advantages_batch", s, via_batch, b.n);
  if (s != GRAPHGPO_OK || !same_bits(out, via_batch)) violation("graphgpo_advantages_batch differs from graphgpo_advantages");
}

void call_advantages_batch(Input& in) {
  const Rows b = make_rows(in);
  std::string method_storage;
  const char* method = method_of(in, method_storage);
  const OptionsText options = options_text(in);
  std::string text = options.text;
  if (b.has_text && in.chance(60)) text = in.chance(50) ? "{\"merge\": \"similar\"}" : "{\"merge\": \"similar\", \"similarity\": 0.5}";
  graphgpo_batch_t batch = make_batch(b);
  // struct_size as an older or newer caller would set it; the buffer holds that many bytes.
  const size_t sizes[] = {sizeof batch, sizeof batch, sizeof batch, 0, sizeof(size_t), 2 * sizeof(size_t),
                          offsetof(graphgpo_batch_t, task), offsetof(graphgpo_batch_t, state_text), sizeof batch + 64};
  const size_t struct_size = sizes[in.below(sizeof sizes / sizeof sizes[0])];
  std::vector<unsigned char> buffer(std::max(struct_size, sizeof batch), 0);
  batch.struct_size = struct_size;
  std::memcpy(buffer.data(), &batch, sizeof batch);
  for (size_t k = sizeof batch; k < buffer.size(); ++k) buffer[k] = in.byte();  // a newer caller's fields
  const bool null_batch = in.chance(3);
  Canaried out(b.n);
  const graphgpo_status_t status = graphgpo_advantages_batch(
      method, null_batch ? nullptr : reinterpret_cast<const graphgpo_batch_t*>(buffer.data()),
      options.is_null && text == options.text ? nullptr : text.c_str(), nullptr, out.data());
  check_advantages_result("graphgpo_advantages_batch", status, out, b.n);
}

void check_graphs(graphgpo_graphs_t* graphs, size_t n, Input& in) {
  size_t groups = 0;
  check_status("graphgpo_graphs_num_groups", graphgpo_graphs_num_groups(graphs, &groups));
  if (groups > n) violation("%zu groups for %zu rows", groups, n);
  size_t edges_total = 0;
  for (size_t g = 0; g < groups; ++g) {
    int64_t id = 0, nodes = -1, edges = -1;
    check_status("graphgpo_graphs_group_info", graphgpo_graphs_group_info(graphs, g, &id, &nodes, &edges));
    if (nodes < 1 || edges < 1 || static_cast<size_t>(edges) > n) violation("group %zu: %lld nodes, %lld edges", g,
                                                                            static_cast<long long>(nodes),
                                                                            static_cast<long long>(edges));
    edges_total += static_cast<size_t>(edges);
    const size_t vn = static_cast<size_t>(nodes), en = static_cast<size_t>(edges);
    for (int forward = 0; forward < 2; ++forward) {
      std::vector<int64_t> offsets(vn + 1, -7), other(en, -7), rows(en, -7);
      const graphgpo_status_t s = forward ? graphgpo_graphs_csr(graphs, g, offsets.data(), other.data(), rows.data())
                                          : graphgpo_graphs_reverse_csr(graphs, g, offsets.data(), other.data(), rows.data());
      check_status("graphgpo_graphs_csr", s);
      if (offsets[0] != 0 || offsets[vn] != edges) violation("group %zu: CSR offsets do not span the edges", g);
      for (size_t v = 0; v < vn; ++v)
        if (offsets[v] > offsets[v + 1]) violation("group %zu: CSR offsets decrease", g);
      for (size_t k = 0; k < en; ++k) {
        if (other[k] < 0 || other[k] >= nodes) violation("group %zu: CSR endpoint %lld out of range", g,
                                                         static_cast<long long>(other[k]));
        if (rows[k] < 0 || static_cast<size_t>(rows[k]) >= n) violation("group %zu: CSR row out of range", g);
      }
    }
    std::vector<double> dist(vn, -1.0);
    check_status("graphgpo_graphs_distances", graphgpo_graphs_distances(graphs, g, dist.data()));
    for (double d : dist)
      if (!(d >= 0.0) || !std::isfinite(d)) violation("group %zu: distance %g", g, d);
    if (dist[0] != 0.0 && dist[0] != 1.0) violation("group %zu: SUCCESS at distance %g", g, dist[0]);
    std::vector<uint8_t> kinds(vn, 9);
    std::vector<graphgpo_fingerprint_t> states(vn);
    check_status("graphgpo_graphs_nodes", graphgpo_graphs_nodes(graphs, g, kinds.data(), in.chance(50) ? states.data() : nullptr));
    if (kinds[0] != 1) violation("group %zu: node 0 is not SUCCESS", g);
    for (uint8_t k : kinds)
      if (k > 2) violation("group %zu: node kind %u", g, k);
    // Outputs may be NULL to skip them.
    check_status("graphgpo_graphs_csr", graphgpo_graphs_csr(graphs, g, nullptr, nullptr, nullptr));
  }
  if (edges_total != n && groups > 0) violation("groups hold %zu edges for %zu rows", edges_total, n);
  // Out of range and NULL: errors, nothing written.
  int64_t untouched = 42;
  const graphgpo_status_t s = graphgpo_graphs_group_info(graphs, groups + in.below(3), &untouched, nullptr, nullptr);
  check_status("graphgpo_graphs_group_info", s);
  if (s == GRAPHGPO_OK || untouched != 42) violation("an out-of-range group index was accepted");
  double d = 42.0;
  const graphgpo_status_t out_of_range = graphgpo_graphs_distances(graphs, groups, &d);
  check_status("graphgpo_graphs_distances", out_of_range);
  if (out_of_range == GRAPHGPO_OK || d != 42.0) violation("distances(g = groups) accepted");
  if (groups > 0) check_status("graphgpo_graphs_distances", graphgpo_graphs_distances(graphs, 0, nullptr));
}

void call_graphs(Input& in) {
  const Rows b = make_rows(in);
  const OptionsText options = options_text(in);
  graphgpo_graphs_t* const sentinel = reinterpret_cast<graphgpo_graphs_t*>(uintptr_t{0x5A5A});
  graphgpo_graphs_t* graphs = sentinel;
  graphgpo_status_t status;
  const char* call;
  if (in.chance(50)) {
    call = "graphgpo_graphs_build";
    status = graphgpo_graphs_build(b.n, b.g(), b.t(), b.s(), b.ns(), b.ok(), b.c(), b.a(),
                                   options.is_null ? nullptr : options.text.c_str(), in.chance(2) ? nullptr : &graphs);
  } else {
    call = "graphgpo_graphs_build_batch";
    const graphgpo_batch_t batch = make_batch(b);
    std::string text = options.text;
    if (b.has_text && in.chance(60)) text = "{\"merge\": \"similar\"}";
    status = graphgpo_graphs_build_batch(in.chance(2) ? nullptr : &batch, text.c_str(), &graphs);
  }
  check_status(call, status);
  if (status != GRAPHGPO_OK) {
    if (graphs != sentinel) violation("%s failed but wrote its handle", call);
    return;
  }
  if (graphs == sentinel || graphs == nullptr) violation("%s succeeded without a handle", call);
  check_graphs(graphs, b.n, in);
  graphgpo_graphs_free(graphs);
}

void call_fingerprints(Input& in) {
  const size_t n = in.below(40);
  std::vector<std::string> strings;
  std::vector<const char*> pointers;
  std::vector<size_t> sizes;
  for (size_t i = 0; i < n; ++i) strings.push_back(in.bytes(40));
  for (size_t i = 0; i < n; ++i) {
    pointers.push_back(in.chance(3) ? nullptr : strings[i].data());
    sizes.push_back(strings[i].size());
  }
  std::vector<graphgpo_fingerprint_t> out(n + 1, graphgpo_fingerprint_t{kCanary, kCanary});
  const graphgpo_status_t s = graphgpo_fingerprint_strings(in.chance(3) ? nullptr : pointers.data(),
                                                           in.chance(3) ? nullptr : sizes.data(), n,
                                                           in.chance(3) ? nullptr : out.data());
  check_status("graphgpo_fingerprint_strings", s);
  if (out[n].lo != kCanary || out[n].hi != kCanary) violation("fingerprint_strings wrote past n");
  if (s != GRAPHGPO_OK)
    for (const auto& f : out)
      if (f.lo != kCanary || f.hi != kCanary) violation("fingerprint_strings failed but wrote");
  if (s == GRAPHGPO_OK) {  // each equals the single-string fingerprint
    for (size_t i = 0; i < n; ++i) {
      graphgpo_fingerprint_t one{0, 0};
      check_status("graphgpo_fingerprint_bytes", graphgpo_fingerprint_bytes(pointers[i], sizes[i], &one));
      if (one.lo != out[i].lo || one.hi != out[i].hi) violation("fingerprint_strings[%zu] != fingerprint_bytes", i);
    }
  }
  std::vector<int64_t> values(n);
  for (auto& v : values) v = in.id();
  std::vector<graphgpo_fingerprint_t> ints(n);
  check_status("graphgpo_fingerprint_int64",
               graphgpo_fingerprint_int64(in.chance(3) ? nullptr : values.data(), n, in.chance(3) ? nullptr : ints.data()));
  graphgpo_fingerprint_t one{0, 0};
  check_status("graphgpo_fingerprint_bytes", graphgpo_fingerprint_bytes(nullptr, in.below(2), in.chance(5) ? nullptr : &one));
}

// Graph memory: a handle, calls that feed it (some failing: they must change nothing), stats, a save and
// a load that gives the same stats back, and loads of damaged files (never more than an error).
std::string g_temp_dir;
bool read_file(const std::string& path, std::vector<uint8_t>& out);

struct MemoryStats {
  uint64_t tasks = 0, edges = 0, bytes = 0, calls = 0;
  bool operator==(const MemoryStats& o) const {
    return tasks == o.tasks && edges == o.edges && bytes == o.bytes && calls == o.calls;
  }
};

MemoryStats stats_of(const graphgpo_memory_t* memory) {
  MemoryStats m;
  check_status("graphgpo_memory_stats", graphgpo_memory_stats(memory, &m.tasks, &m.edges, &m.bytes, &m.calls));
  return m;
}

std::string memory_options(Input& in) {
  static const char* const texts[] = {"", "{}", "{\"max_edges_per_task\": 3}", "{\"max_edges\": 5, \"max_age\": 1}",
                                      "{\"max_edges\": 0}", "{\"max_age\": null}", "{\"max_edges\": -1}",
                                      "{\"max_edges\": 1.5}", "{\"bogus\": 1}", "{\"max_edges\": 9e18}"};
  return in.chance(80) ? texts[in.below(sizeof texts / sizeof texts[0])] : options_text(in).text;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

std::string read_bytes(const std::string& path) {
  std::vector<uint8_t> data;
  read_file(path, data);
  return std::string(data.begin(), data.end());
}

void call_memory(Input& in) {
  graphgpo_memory_t* const sentinel = reinterpret_cast<graphgpo_memory_t*>(uintptr_t{0x5A5A});
  graphgpo_memory_t* memory = sentinel;
  const std::string options = memory_options(in);
  const graphgpo_status_t created = graphgpo_memory_create(in.chance(5) ? nullptr : options.c_str(),
                                                           in.chance(2) ? nullptr : &memory);
  check_status("graphgpo_memory_create", created);
  if (created != GRAPHGPO_OK) {
    if (memory != sentinel) violation("graphgpo_memory_create failed but wrote its handle");
    return;
  }
  for (size_t call = in.below(4) + 1; call > 0; --call) {
    const Rows b = make_rows(in);
    static const char* const texts[] = {"{}", "{\"omega\": 0.5}", "{\"distance\": \"expected\"}",
                                        "{\"merge\": \"similar\"}", "{\"num_threads\": 2}"};
    const char* methods[] = {"graphgpo", "graphgpo", "progpo", "gigpo", "grpo"};
    const char* method = methods[in.below(5)];
    const std::string text = in.chance(85) ? texts[in.below(5)] : options_text(in).text;
    graphgpo_batch_t batch = make_batch(b);
    const MemoryStats before = stats_of(memory);
    Canaried out(b.n);
    const graphgpo_status_t s = graphgpo_advantages_batch(method, &batch, text.c_str(), memory, out.data());
    check_advantages_result("graphgpo_advantages_batch (memory)", s, out, b.n);
    const std::string error = graphgpo_last_error();
    const MemoryStats after = stats_of(memory);
    if (s != GRAPHGPO_OK && !(after == before))
      violation("a failed call with memory changed the memory (tasks %llu -> %llu, edges %llu -> %llu, bytes %llu -> "
                "%llu, calls %llu -> %llu; the call's error: %s)",
                (unsigned long long)before.tasks, (unsigned long long)after.tasks, (unsigned long long)before.edges,
                (unsigned long long)after.edges, (unsigned long long)before.bytes, (unsigned long long)after.bytes,
                (unsigned long long)before.calls, (unsigned long long)after.calls, error.c_str());
    if (s == GRAPHGPO_OK && after.calls != before.calls + 1) violation("a call with memory did not count");
  }
  const std::string path = g_temp_dir + "/memory.bin";
  const graphgpo_status_t saved = graphgpo_memory_save(memory, in.chance(3) ? nullptr : path.c_str());
  check_status("graphgpo_memory_save", saved);
  if (saved == GRAPHGPO_OK) {
    graphgpo_memory_t* loaded = sentinel;
    check_status("graphgpo_memory_load", graphgpo_memory_load(path.c_str(), &loaded));
    if (loaded == sentinel || !loaded) violation("graphgpo_memory_load succeeded without a handle");
    const MemoryStats a = stats_of(memory), b = stats_of(loaded);
    if (a.tasks != b.tasks || a.edges != b.edges) violation("a saved and loaded memory differs");
    graphgpo_memory_free(loaded);
    // A damaged copy: truncated, bytes flipped or appended. Loading it is an error or a valid memory.
    std::string bytes = read_bytes(path);
    for (size_t k = in.below(4) + 1; k > 0 && !bytes.empty(); --k) {
      switch (in.below(3)) {
        case 0: bytes.resize(in.below(bytes.size())); break;
        case 1: bytes[in.below(bytes.size())] ^= static_cast<char>(1 + in.below(255)); break;
        default: bytes += in.bytes(16);
      }
    }
    const std::string damaged = g_temp_dir + "/damaged.bin";
    write_bytes(damaged, bytes);
    graphgpo_memory_t* broken = sentinel;
    const graphgpo_status_t s = graphgpo_memory_load(damaged.c_str(), &broken);
    check_status("graphgpo_memory_load (damaged)", s);
    if (s != GRAPHGPO_OK && broken != sentinel) violation("a failed load wrote its handle");
    if (s == GRAPHGPO_OK) {
      stats_of(broken);
      graphgpo_memory_free(broken);
    }
  }
  const std::string missing = g_temp_dir + "/no/such/dir/memory.bin";
  const graphgpo_status_t bad_save = graphgpo_memory_save(memory, missing.c_str());
  check_status("graphgpo_memory_save (bad path)", bad_save);
  if (bad_save == GRAPHGPO_OK) violation("saving into a missing directory succeeded");
  graphgpo_memory_t* none = sentinel;
  check_status("graphgpo_memory_load (missing)", graphgpo_memory_load(missing.c_str(), &none));
  if (none != sentinel) violation("a failed load wrote its handle");
  graphgpo_memory_free(memory);
  graphgpo_memory_free(nullptr);
}

// Options alone: n = 0 runs the parser and nothing else.
void call_options(Input& in) {
  const OptionsText options = options_text(in);
  Canaried out(0);
  const char* methods[] = {"grpo", "gigpo", "graphgpo"};
  const graphgpo_status_t s = graphgpo_advantages(methods[in.below(3)], 0, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                  nullptr, nullptr, nullptr, nullptr,
                                                  options.is_null ? nullptr : options.text.c_str(), nullptr);
  check_advantages_result("graphgpo_advantages (options only)", s, out, 0);
  graphgpo_graphs_t* graphs = nullptr;
  const graphgpo_status_t g = graphgpo_graphs_build(0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                    options.is_null ? nullptr : options.text.c_str(), &graphs);
  check_status("graphgpo_graphs_build (options only)", g);
  if ((g == GRAPHGPO_OK) != (s == GRAPHGPO_OK)) violation("the options '%s' are valid for one entry point only", options.text.c_str());
  if (g == GRAPHGPO_OK) {
    check_graphs(graphs, 0, in);
    graphgpo_graphs_free(graphs);
  }
}

void call_misc(Input& in) {
  if (!graphgpo_version() || !graphgpo_build_info()) violation("version or build info is NULL");
  if (graphgpo_abi_version() < 1) violation("graphgpo_abi_version() = %d", graphgpo_abi_version());
  graphgpo_graphs_free(nullptr);
  size_t groups = 7;
  const graphgpo_status_t s = graphgpo_graphs_num_groups(nullptr, &groups);
  check_status("graphgpo_graphs_num_groups", s);
  if (s == GRAPHGPO_OK || groups != 7) violation("num_groups(NULL) accepted");
  const int cuda = graphgpo_cuda_available();
  if (cuda != 0 && cuda != 1) violation("graphgpo_cuda_available() = %d", cuda);
  (void)in;
}

void run_one(const std::vector<uint8_t>& data) {
  g_current = &data;
  Input in(data.data(), data.size());
  for (int call = 0; call < 4 && (call == 0 || !in.exhausted()); ++call) {
    switch (in.below(9)) {
      case 0:
      case 1: call_advantages(in); break;
      case 2: call_advantages_batch(in); break;
      case 3:
      case 4: call_graphs(in); break;
      case 5: call_fingerprints(in); break;
      case 6: call_options(in); break;
      case 7: call_memory(in); break;
      default: call_misc(in); break;
    }
  }
  g_current = nullptr;
}

// ---------------------------------------------------------------------------------------------------------
// Files and the random driver.

bool read_file(const std::string& path, std::vector<uint8_t>& out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out.clear();
  uint8_t buffer[4096];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0) out.insert(out.end(), buffer, buffer + got);
  std::fclose(f);
  return true;
}

std::vector<std::string> list_inputs(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return {};
  if (!S_ISDIR(info.st_mode)) return {path};
  std::vector<std::string> files;
  if (DIR* dir = opendir(path.c_str())) {
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == ".." || name[0] == '.' || name == "README.md") continue;
      files.push_back(path + "/" + name);
    }
    closedir(dir);
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t k) { return k ? static_cast<size_t>(next() % k) : 0; }
};

std::vector<uint8_t> mutate(std::vector<uint8_t> data, const std::vector<std::vector<uint8_t>>& corpus, SplitMix& rng) {
  const size_t edits = rng.below(6) + 1;
  for (size_t e = 0; e < edits; ++e) {
    switch (rng.below(6)) {
      case 0:
        if (!data.empty()) data[rng.below(data.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
        break;
      case 1:
        if (!data.empty()) data[rng.below(data.size())] = static_cast<uint8_t>(rng.next());
        break;
      case 2: data.insert(data.begin() + static_cast<long>(rng.below(data.size() + 1)), static_cast<uint8_t>(rng.next())); break;
      case 3:
        if (!data.empty()) {
          const size_t at = rng.below(data.size());
          data.erase(data.begin() + static_cast<long>(at), data.begin() + static_cast<long>(std::min(data.size(), at + 1 + rng.below(8))));
        }
        break;
      case 4: {  // splice with another corpus entry
        if (corpus.empty()) break;
        const auto& other = corpus[rng.below(corpus.size())];
        const size_t cut = rng.below(data.size() + 1);
        data.resize(cut);
        const size_t from = rng.below(other.size() + 1);
        data.insert(data.end(), other.begin() + static_cast<long>(from), other.end());
        break;
      }
      default: {  // an interesting byte
        static const uint8_t interesting[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0xfe, 10, 100};
        if (!data.empty()) data[rng.below(data.size())] = interesting[rng.below(sizeof interesting)];
      }
    }
  }
  if (data.size() > 8192) data.resize(8192);
  return data;
}

void save_input(const std::string& dir, const std::vector<uint8_t>& data) {
  char name[32];
  std::snprintf(name, sizeof name, "/%016llx", static_cast<unsigned long long>(fnv1a(data.data(), data.size())));
  const std::string path = dir + name;
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (!data.empty()) std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: fuzz_c_abi replay PATH...\n"
               "       fuzz_c_abi fuzz [--seed S] [--runs N] [--seconds T] [--corpus DIR] [--save DIR]\n"
               "       fuzz_c_abi distill OUT PATH...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(save_current_input);
#endif
  if (argc < 2) return usage();
  char temp_template[] = "/tmp/fuzz_c_abi.XXXXXX";
  if (!mkdtemp(temp_template)) {
    std::fprintf(stderr, "fuzz_c_abi: cannot make a temporary directory\n");
    return 2;
  }
  g_temp_dir = temp_template;
  struct RemoveTemp {
    ~RemoveTemp() {
      std::remove((g_temp_dir + "/memory.bin").c_str());
      std::remove((g_temp_dir + "/damaged.bin").c_str());
      rmdir(g_temp_dir.c_str());
    }
  } remove_temp;
  const std::string mode = argv[1];
  if (mode == "replay") {
    size_t count = 0;
    for (int i = 2; i < argc; ++i) {
      for (const std::string& file : list_inputs(argv[i])) {
        std::vector<uint8_t> data;
        if (!read_file(file, data)) {
          std::fprintf(stderr, "fuzz_c_abi: cannot read %s\n", file.c_str());
          return 2;
        }
        run_one(data);
        ++count;
      }
    }
    std::printf("fuzz_c_abi: replayed %zu inputs, no violation\n", count);
    return count > 0 ? 0 : 2;
  }
  if (mode == "distill" && argc >= 4) {  // the smallest inputs that reach every outcome the inputs reach
    std::vector<std::vector<uint8_t>> inputs;
    for (int i = 3; i < argc; ++i) {
      for (const std::string& file : list_inputs(argv[i])) {
        std::vector<uint8_t> data;
        if (read_file(file, data)) inputs.push_back(std::move(data));
      }
    }
    std::stable_sort(inputs.begin(), inputs.end(),
                     [](const std::vector<uint8_t>& x, const std::vector<uint8_t>& y) { return x.size() < y.size(); });
    std::set<std::string> outcomes;
    size_t kept = 0;
    for (const auto& data : inputs) {
      std::set<std::string> reached;
      g_outcomes = &reached;
      run_one(data);
      std::set<std::string> fresh;
      for (const std::string& o : reached)
        if (!outcomes.count(o)) fresh.insert(o);
      if (fresh.empty()) continue;
      // The shortest prefix that still reaches them (reads past the end are zeros, so prefixes are inputs).
      size_t lo = 0, hi = data.size();
      while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        std::set<std::string> with_prefix;
        g_outcomes = &with_prefix;
        run_one(std::vector<uint8_t>(data.begin(), data.begin() + static_cast<long>(mid)));
        bool all = true;
        for (const std::string& o : fresh) all = all && with_prefix.count(o);
        if (all) hi = mid;
        else lo = mid + 1;
      }
      const std::vector<uint8_t> shortest(data.begin(), data.begin() + static_cast<long>(hi));
      std::set<std::string> check;
      g_outcomes = &check;
      run_one(shortest);
      bool all = true;
      for (const std::string& o : fresh) all = all && check.count(o);
      const std::vector<uint8_t>& chosen = all ? shortest : data;
      g_outcomes = &outcomes;
      run_one(chosen);
      outcomes.insert(fresh.begin(), fresh.end());
      save_input(argv[2], chosen);
      ++kept;
    }
    std::printf("fuzz_c_abi: kept %zu of %zu inputs (%zu outcomes)\n", kept, inputs.size(), outcomes.size());
    if (std::getenv("FUZZ_C_ABI_LIST_OUTCOMES"))
      for (const std::string& outcome : outcomes) std::printf("  %s\n", outcome.c_str());
    return 0;
  }
  if (mode != "fuzz") return usage();
  uint64_t seed = 1;
  size_t runs = 100000;
  double seconds = 1e9;
  std::string corpus_dir, save_dir;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--runs") runs = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--seconds") seconds = std::strtod(argv[i + 1], nullptr);
    else if (flag == "--corpus") corpus_dir = argv[i + 1];
    else if (flag == "--save") save_dir = argv[i + 1];
    else return usage();
  }
  std::set<std::string> outcomes;
  g_outcomes = &outcomes;
  std::vector<std::vector<uint8_t>> corpus;
  if (!corpus_dir.empty()) {
    for (const std::string& file : list_inputs(corpus_dir)) {
      std::vector<uint8_t> data;
      if (read_file(file, data)) {
        run_one(data);  // known outcomes are not new
        corpus.push_back(std::move(data));
      }
    }
  }
  SplitMix rng{seed};
  const auto start = std::chrono::steady_clock::now();
  size_t done = 0, saved = 0;
  for (; done < runs; ++done) {
    if ((done & 63) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds)
      break;
    std::vector<uint8_t> data;
    if (!corpus.empty() && rng.below(2) == 0) {
      data = mutate(corpus[rng.below(corpus.size())], corpus, rng);
    } else {
      data.resize(rng.below(rng.below(4) == 0 ? 4096 : 256));
      for (uint8_t& byte : data) byte = static_cast<uint8_t>(rng.next());
    }
    g_new_outcome = false;
    run_one(data);
    if (g_new_outcome) {
      corpus.push_back(data);
      if (!save_dir.empty()) {
        save_input(save_dir, data);
        ++saved;
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz_c_abi: %zu inputs in %.1f s (seed %llu), %zu outcomes, %zu saved, no violation\n", done, elapsed,
              static_cast<unsigned long long>(seed), outcomes.size(), saved);
  return 0;
}

// Text states for merge="similar": str and bytes objects read in place (CPython's canonical UCS1/UCS2/UCS4
// data, never re-encoded) and the difflib test hooks of graphgpo._core.
#include "text.hpp"

#include <pybind11/numpy.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "graphgpo/similarity.hpp"
#include "graphgpo/state_merge.hpp"

namespace py = pybind11;

namespace graphgpo_bindings {

bool text_ref(PyObject* item, graphgpo::TextRef& out) {
  if (PyBytes_Check(item)) {
    out.data = PyBytes_AS_STRING(item);
    out.size = static_cast<size_t>(PyBytes_GET_SIZE(item));
    out.width = 1;
    return true;
  }
  if (PyUnicode_Check(item)) {
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(item) != 0) throw py::error_already_set();
#endif
    out.data = PyUnicode_DATA(item);
    out.size = static_cast<size_t>(PyUnicode_GET_LENGTH(item));
    out.width = static_cast<uint32_t>(PyUnicode_KIND(item));
    return true;
  }
  return false;
}

TextColumn text_column(const py::handle& items, size_t n, const char* name, int kind) {
  TextColumn column;
  column.owner = py::reinterpret_steal<py::object>(PySequence_Tuple(items.ptr()));
  if (!column.owner) throw py::error_already_set();
  PyObject* tuple = column.owner.ptr();
  if (static_cast<size_t>(PyTuple_GET_SIZE(tuple)) != n)
    throw py::value_error(std::string(name) + " must have one text per row");
  column.refs.resize(n);
  if (kind < 0 && n > 0) kind = PyUnicode_Check(PyTuple_GET_ITEM(tuple, 0)) ? 1 : 0;
  column.is_str = kind == 1;
  for (size_t i = 0; i < n; ++i) {
    PyObject* item = PyTuple_GET_ITEM(tuple, i);
    if (!text_ref(item, column.refs[i]))
      throw py::type_error(std::string(name) + " row " + std::to_string(i) +
                           ": merge='similar' needs text states (str or bytes), got " + Py_TYPE(item)->tp_name);
    if ((PyUnicode_Check(item) ? 1 : 0) != kind)
      throw py::type_error(std::string(name) + " row " + std::to_string(i) + ": " + Py_TYPE(item)->tp_name +
                           " state in a batch of " + (kind == 1 ? "str" : "bytes") +
                           " states: merge='similar' compares str (code points) and bytes differently, "
                           "so a batch must not mix them");
  }
  return column;
}

namespace {

// Both arguments str, or both bytes (difflib compares code points for str and byte values for bytes).
std::pair<graphgpo::TextRef, graphgpo::TextRef> text_pair(const py::handle& a, const py::handle& b) {
  graphgpo::TextRef ra, rb;
  const bool a_str = PyUnicode_Check(a.ptr()), b_str = PyUnicode_Check(b.ptr());
  if (!text_ref(a.ptr(), ra) || !text_ref(b.ptr(), rb) || a_str != b_str)
    throw py::type_error("expected two str or two bytes");
  return {ra, rb};
}

}  // namespace

// Greedy merge of a list of texts (all str or all bytes), exact repeats resolved by content first.
py::tuple merge_similar(const py::sequence& texts, double threshold) {
  const py::tuple items = py::tuple(texts);  // our own references: the list may change meanwhile
  const size_t n = items.size();
  std::vector<graphgpo::TextRef> refs(n);
  for (size_t i = 0; i < n; ++i) {
    if (!text_ref(items[i].ptr(), refs[i]) || PyUnicode_Check(items[i].ptr()) != PyUnicode_Check(items[0].ptr()))
      throw py::type_error("text " + std::to_string(i) + ": expected all str or all bytes");
  }
  py::array_t<int32_t> out(static_cast<py::ssize_t>(n));
  int32_t* dst = out.mutable_data();
  graphgpo::SimilarMerger merger;
  {
    py::gil_scoped_release release;
    merger.reset(threshold);
    std::unordered_map<std::string, int32_t> seen;
    for (size_t i = 0; i < n; ++i) {
      std::string key(static_cast<const char*>(refs[i].data), refs[i].size * refs[i].width);
      key.push_back(static_cast<char>(refs[i].width));
      auto it = seen.find(key);
      dst[i] = it != seen.end() ? it->second : (seen[key] = merger.add(refs[i]));
    }
  }
  const graphgpo::MergeStats& s = merger.stats();
  py::dict stats;
  stats["texts"] = s.texts;
  stats["representatives"] = merger.num_representatives();
  stats["comparisons"] = s.comparisons;
  stats["length_refuted"] = s.length_refuted;
  stats["counts_refuted"] = s.counts_refuted;
  stats["block_searches"] = s.block_searches;
  return py::make_tuple(out, stats);
}

void register_text_bindings(py::module_& m) {
  m.def(
      "_similarity_ratio",
      [](const py::handle& a, const py::handle& b) {
        const auto texts = text_pair(a, b);
        return graphgpo::difflib_ratio(texts.first, texts.second);
      },
      py::arg("a"), py::arg("b"),
      "difflib.SequenceMatcher(None, a, b).ratio() computed by the engine (test hook).");
  m.def(
      "_similarity_reaches",
      [](const py::handle& a, const py::handle& b, double threshold) {
        const auto texts = text_pair(a, b);
        return graphgpo::difflib_similar(texts.first, texts.second, threshold);
      },
      py::arg("a"), py::arg("b"), py::arg("threshold"),
      "ratio(a, b) >= threshold, decided with the engine's bounds and early stops (test hook).");
  m.def(
      "_check_texts",
      [](const py::handle& state, const py::handle& next_state) {
        const TextColumn first = text_column(state, static_cast<size_t>(py::len(state)), "state");
        if (!next_state.is_none())
          text_column(next_state, static_cast<size_t>(py::len(next_state)), "next_state", first.is_str ? 1 : 0);
      },
      py::arg("state"), py::arg("next_state") = py::none(),
      "TypeError naming the first row that is not text, or not of row 0's kind (str or bytes).");
  m.def("_merge_similar", &merge_similar, py::arg("texts"), py::arg("threshold"),
        "Representative index per text of the greedy first-fit merge, and work counters (test hook).");
}

}  // namespace graphgpo_bindings

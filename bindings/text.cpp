// Text states for merge="similar": str and bytes objects read in place (CPython's canonical UCS1/UCS2/UCS4
// data, never re-encoded) and the difflib test hooks of graphgpo._core.
#include "text.hpp"

#include <string>

#include "graphgpo/similarity.hpp"

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
}

}  // namespace graphgpo_bindings

// Text states for merge="similar": see text.cpp.
#pragma once

#include <pybind11/pybind11.h>

#include <vector>

#include "graphgpo/similarity.hpp"

namespace graphgpo_bindings {

// A borrowed view of a str (its canonical UCS1/UCS2/UCS4 data) or bytes object; false for anything else.
// The object must stay alive (and the GIL held, or a reference kept) while the view is used.
bool text_ref(PyObject* item, graphgpo::TextRef& out);

// The texts of one state column, viewed in place: `owner` holds a reference to every item, so the views stay
// valid while the engine runs without the GIL.
struct TextColumn {
  pybind11::object owner;
  std::vector<graphgpo::TextRef> refs;
  bool is_str = false;
};

// Views of `items` (a sequence of n str, or of n bytes; `name` is the field for messages). `kind` is the
// kind the column must have (-1: set by its first item, 0: bytes, 1: str). Raises TypeError naming the
// first row of another kind or not text at all.
TextColumn text_column(const pybind11::handle& items, size_t n, const char* name, int kind = -1);

// graphgpo._core._similarity_ratio / _similarity_reaches (test hooks).
void register_text_bindings(pybind11::module_& m);

}  // namespace graphgpo_bindings

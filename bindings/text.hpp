// Text states for merge="similar": see text.cpp.
#pragma once

#include <pybind11/pybind11.h>

#include "graphgpo/similarity.hpp"

namespace graphgpo_bindings {

// A borrowed view of a str (its canonical UCS1/UCS2/UCS4 data) or bytes object; false for anything else.
// The object must stay alive (and the GIL held, or a reference kept) while the view is used.
bool text_ref(PyObject* item, graphgpo::TextRef& out);

// graphgpo._core._similarity_ratio / _similarity_reaches (test hooks).
void register_text_bindings(pybind11::module_& m);

}  // namespace graphgpo_bindings

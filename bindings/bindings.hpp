// Shared pieces of the graphgpo._core bindings: the typed array aliases the Python layer hands over, and
// one register_* function per area (each defined in its own file, all called by module.cpp).
//
// Contract with the Python layer (src/graphgpo/_inputs.py): arrays arrive already typed and C-contiguous,
// are read in place (zero-copy), and the GIL is released while the engine runs.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>

#include "graphgpo/fingerprint.hpp"

namespace graphgpo_bindings {

namespace py = pybind11;

using Int64Array = py::array_t<int64_t, py::array::c_style>;
using UInt8Array = py::array_t<uint8_t, py::array::c_style>;
using DoubleArray = py::array_t<double, py::array::c_style>;
using UInt64Array = py::array_t<uint64_t, py::array::c_style>;

// A fresh (n, 2) uint64 array of fingerprints and a typed pointer into it.
inline py::array_t<uint64_t> new_fingerprints(size_t n) {
  return py::array_t<uint64_t>({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(2)});
}
inline graphgpo::Fingerprint* fingerprint_data(py::array_t<uint64_t>& a) {
  return reinterpret_cast<graphgpo::Fingerprint*>(a.mutable_data());
}

void register_fingerprints(py::module_& m);  // fingerprints.cpp: str/bytes fast path, ints, array rows
void register_estimators(py::module_& m);    // estimators.cpp: registry, advantages, option schema and checks
void register_graphs(py::module_& m);        // graphs.cpp: build_graphs and read-only GraphBatch
void register_cuda(py::module_& m);          // cuda_bindings.cpp: graphgpo._core._cuda
void register_memory(py::module_& m);        // memory_bindings.cpp: graphgpo._core.GraphMemory
// register_text_bindings (text.hpp): the str/bytes views of merge="similar" and the difflib test hooks

}  // namespace graphgpo_bindings

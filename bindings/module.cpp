// graphgpo._core: the engine for Python. This file defines the module, its build information and the one
// translation of engine errors into Python exceptions; each area's functions live in their own file (see
// bindings.hpp).
#include <pybind11/pybind11.h>

#include <cstring>
#include <exception>
#include <string>

#include "bindings.hpp"
#include "graphgpo/error.hpp"
#include "graphgpo/graph_batch.hpp"  // version_string, abi_version, build_info_json
#include "graphgpo/parallel.hpp"
#include "text.hpp"

namespace py = pybind11;

namespace {

// graphgpo::IoError -> OSError; graphgpo::Error -> TypeError / ValueError / RuntimeError, by its code.
void translate_engine_errors(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const graphgpo::IoError& e) {
    // OSError(errno, message, path): Python picks the subclass (FileNotFoundError, PermissionError, ...).
    const std::string message = std::string(std::strerror(e.error_number())) + " (" + e.action() + ")";
    PyObject* args = Py_BuildValue("(iss)", e.error_number(), message.c_str(), e.path().c_str());
    if (args) {
      PyErr_SetObject(PyExc_OSError, args);
      Py_DECREF(args);
    }
  } catch (const graphgpo::Error& e) {
    if (e.code() == graphgpo::ErrorCode::TypeMismatch) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } else if (e.code() == graphgpo::ErrorCode::InvalidArgument) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } else {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  }
}

void register_build_info(py::module_& m) {
  m.def("version", &graphgpo::version_string);
  m.def("abi_version", &graphgpo::abi_version);
  m.def("build_info_json", []() { return graphgpo::build_info_json(); });
  m.def("cuda_available", []() {
#ifdef GRAPHGPO_WITH_CUDA
    return true;
#else
    return false;
#endif
  });
  m.def("default_num_threads", &graphgpo::default_num_threads);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "graphgpo C++ engine (see graphgpo/_core.pyi)";
  py::register_exception_translator(&translate_engine_errors);
  register_build_info(m);
  graphgpo_bindings::register_memory(m);  // first: the estimator bindings take a GraphMemory
  graphgpo_bindings::register_estimators(m);
  graphgpo_bindings::register_fingerprints(m);
  graphgpo_bindings::register_graphs(m);
  graphgpo_bindings::register_cuda(m);
  graphgpo_bindings::register_text_bindings(m);
}

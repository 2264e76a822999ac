// Fingerprint bindings: sequences of str/bytes (read through CPython's object layout, in parallel),
// 1-D int64 arrays, and the rows of 2-D arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "graphgpo/fingerprint.hpp"
#include "graphgpo/parallel.hpp"

namespace graphgpo_bindings {
namespace {

using graphgpo::Fingerprint;

// Fingerprints of a sequence of str / bytes, in one parallel pass that reads each object and hashes its
// bytes (fresh strings are cold in cache: a separate serial pass to collect pointers cost a fifth of the
// hashing). The calling thread keeps the GIL throughout, so no Python code runs and no object can change
// or be freed while the engine's threads read them; they only read immutable fields (type flags, the
// data of ASCII str and of bytes), never call the C API. Anything else (non-ASCII str, whose UTF-8 may
// have to be created; unsupported types) is left to the calling thread afterwards, in row order, so the
// first offending row is the one reported. bytearray is refused: it is mutable.
py::array_t<uint64_t> fingerprint_buffers(const py::handle& sequence, int num_threads, bool as_rows, bool check_only) {
  PyObject* fast = PySequence_Fast(sequence.ptr(), "states must be a sequence");
  if (!fast) throw py::error_already_set();
  py::object owner = py::reinterpret_steal<py::object>(fast);
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(fast));
  PyObject** items = PySequence_Fast_ITEMS(fast);
  auto out = new_fingerprints(n);
  Fingerprint* dst = fingerprint_data(out);
  const auto domain = as_rows ? graphgpo::FingerprintDomain::ArrayRow : graphgpo::FingerprintDomain::Bytes;
  constexpr size_t kChunk = 512;
  const size_t num_chunks = (n + kChunk - 1) / kChunk;
  std::vector<std::vector<size_t>> deferred(num_chunks);  // rows for the calling thread, per chunk
  graphgpo::parallel_for(n, kChunk, graphgpo::resolve_num_threads(num_threads, num_chunks / 4),
                         [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      PyObject* item = items[i];
      const char* data = nullptr;
      size_t size = 0;
      if (PyUnicode_Check(item) && PyUnicode_IS_COMPACT_ASCII(item)) {
        data = reinterpret_cast<const char*>(reinterpret_cast<PyASCIIObject*>(item) + 1);
        size = static_cast<size_t>(PyUnicode_GET_LENGTH(item));
      } else if (PyBytes_Check(item)) {
        data = PyBytes_AS_STRING(item);
        size = static_cast<size_t>(PyBytes_GET_SIZE(item));
      } else {
        deferred[i / kChunk].push_back(i);
        continue;
      }
      dst[i] = check_only ? Fingerprint{0, 0} : graphgpo::fingerprint_bytes(data, size, domain);
    }
  });
  for (const auto& rows : deferred) {
    for (size_t i : rows) {
      PyObject* item = items[i];
      if (!PyUnicode_Check(item)) {
        throw py::type_error("state row " + std::to_string(i) + ": unsupported state type '" +
                             std::string(Py_TYPE(item)->tp_name) +
                             "' (expected str or bytes; pass key= to map states to str, bytes or int)");
      }
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(item, &size);
      if (!data) {
        PyErr_Clear();
        throw py::value_error("state row " + std::to_string(i) + ": str cannot be encoded as UTF-8");
      }
      dst[i] = check_only ? Fingerprint{0, 0} : graphgpo::fingerprint_bytes(data, static_cast<size_t>(size), domain);
    }
  }
  return out;
}

py::array_t<uint64_t> fingerprint_int64(const Int64Array& values, int num_threads) {
  if (values.ndim() != 1) throw py::value_error("integer states must be one-dimensional");
  const size_t n = static_cast<size_t>(values.shape(0));
  auto out = new_fingerprints(n);
  const int64_t* src = values.data();
  Fingerprint* dst = fingerprint_data(out);
  py::gil_scoped_release release;
  graphgpo::fingerprint_int64_batch(src, n, dst, num_threads);
  return out;
}

// Rows of a C-contiguous 2-D array of any dtype, viewed as raw bytes.
py::array_t<uint64_t> fingerprint_rows(const py::array& rows, int num_threads) {
  if (rows.ndim() != 2) throw py::value_error("array states must be two-dimensional (one row per state)");
  if (!(rows.flags() & py::array::c_style)) throw py::value_error("array states must be C-contiguous");
  const size_t n = static_cast<size_t>(rows.shape(0));
  const size_t row_bytes = static_cast<size_t>(rows.shape(1)) * static_cast<size_t>(rows.itemsize());
  auto out = new_fingerprints(n);
  const auto* src = static_cast<const uint8_t*>(rows.data());
  Fingerprint* dst = fingerprint_data(out);
  py::gil_scoped_release release;
  graphgpo::fingerprint_rows_batch(src, n, row_bytes, row_bytes, dst, num_threads);
  return out;
}

}  // namespace

void register_fingerprints(py::module_& m) {
  m.def("fingerprint_buffers", &fingerprint_buffers, py::arg("states"), py::arg("num_threads") = 0,
        py::arg("as_rows") = false, py::arg("check_only") = false);
  m.def("fingerprint_int64", &fingerprint_int64, py::arg("values"), py::arg("num_threads") = 0);
  m.def("fingerprint_rows", &fingerprint_rows, py::arg("rows"), py::arg("num_threads") = 0);
}

}  // namespace graphgpo_bindings

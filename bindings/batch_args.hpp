// Argument plumbing shared by the estimator and graph bindings: the per-row arrays of one call, checked
// for shape and viewed (without copying) as the engine's BatchView.
#pragma once

#include <optional>

#include "bindings.hpp"
#include "graphgpo/batch.hpp"
#include "text.hpp"

namespace graphgpo_bindings {

// The row fields of one call, as the Python layer passes them (optional ones may be None).
struct BatchArgs {
  Int64Array group, trajectory;
  UInt64Array state;
  std::optional<UInt64Array> next_state;
  UInt8Array success;
  std::optional<UInt8Array> valid;
  std::optional<DoubleArray> reward, cost;
  std::optional<Int64Array> action;
  std::optional<TextColumn> state_text, next_state_text;  // merge="similar"
  std::optional<Int64Array> task;                         // graph memory
};

// Text columns (str or bytes, not mixed) when given; next_state's kind must be state's.
void attach_texts(BatchArgs& args, const py::object& state_text, const py::object& next_state_text);

// A view of the arrays for the engine; throws ValueError when a field does not have one value per row.
// The view borrows `args`: keep it alive while the view is used.
graphgpo::BatchView make_view(const BatchArgs& args);

}  // namespace graphgpo_bindings

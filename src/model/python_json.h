// JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it, which is
// what the chat templates' `tojson` filter prints (Hugging Face replaces Jinja's own
// filter with json.dumps): ", " and ": " separators, keys in their given order, non-ASCII
// characters as they are, control characters as \n \t ... or \u00XX (lowercase hex),
// floats as Python's repr (1.0, 1e-05, 1e+16).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace tandem {

using OrderedJson = nlohmann::ordered_json;

std::string PythonJsonDumps(const OrderedJson& value);

// Python's repr() of a float: the shortest digits that read back to `v`, in positional
// notation when the decimal exponent is in [-4, 16), else as 1.5e-05 / 1e+16.
std::string PythonFloatRepr(double v);

// Parses JSON text keeping key order; an error names `what` and the parser's complaint.
Expected<OrderedJson> ParseOrderedJson(std::string_view text, std::string_view what);

}  // namespace tandem

// What lives here: RecurrentConfig's validation and its JSON form (stored in checkpoints; recurrent.h).
#include <algorithm>

#include "models/recurrent.h"

namespace unroll {

void RecurrentConfig::validate() const {
  UNROLL_CHECK(!cell.empty(), UsageError, "RecurrentConfig: cell is empty (hint: e.g. \"lstm\")");
  UNROLL_CHECK(input_size > 0, UsageError, "RecurrentConfig: input_size must be positive, got {}", input_size);
  UNROLL_CHECK(hidden_size > 0, UsageError, "RecurrentConfig: hidden_size must be positive, got {}", hidden_size);
  UNROLL_CHECK(layers > 0, UsageError, "RecurrentConfig: layers must be positive, got {}", layers);
  UNROLL_CHECK(dropout >= 0 && dropout < 1, UsageError, "RecurrentConfig: dropout {} is outside [0, 1)", dropout);
  UNROLL_CHECK(cell_options.is_object(), UsageError, "RecurrentConfig: cell_options must be a JSON object, got {}",
               cell_options.dump());
}

void to_json(nlohmann::json& j, const RecurrentConfig& c) {
  j = nlohmann::json{{"cell", c.cell},           {"input_size", c.input_size},
                     {"hidden_size", c.hidden_size}, {"layers", c.layers},
                     {"bidirectional", c.bidirectional}, {"dropout", c.dropout},
                     {"cell_options", c.cell_options}};
  if (!c.fused) j["fused"] = false;  // the default is omitted: configs written before the key stay identical
}

void from_json(const nlohmann::json& j, RecurrentConfig& c) {
  UNROLL_CHECK(j.is_object(), DataError, "RecurrentConfig: expected a JSON object, got {}", j.dump());
  static const char* const kKeys[] = {"cell", "input_size", "hidden_size", "layers", "bidirectional", "dropout",
                                      "cell_options", "fused"};
  for (const auto& [key, value] : j.items())
    UNROLL_CHECK(std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys), DataError,
                 "RecurrentConfig: unknown key '{}' (hint: known keys are cell, input_size, hidden_size, layers, "
                 "bidirectional, dropout, cell_options, fused)",
                 key);
  const RecurrentConfig defaults;
  try {
    c.cell = j.value("cell", defaults.cell);
    c.input_size = j.value("input_size", defaults.input_size);
    c.hidden_size = j.value("hidden_size", defaults.hidden_size);
    c.layers = j.value("layers", defaults.layers);
    c.bidirectional = j.value("bidirectional", defaults.bidirectional);
    c.dropout = j.value("dropout", defaults.dropout);
    c.cell_options = j.value("cell_options", defaults.cell_options);
    c.fused = j.value("fused", defaults.fused);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("RecurrentConfig: a field has the wrong type in {} ({})", j.dump(), e.what()));
  }
}

}  // namespace unroll

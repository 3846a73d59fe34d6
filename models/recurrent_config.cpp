// SPDX-License-Identifier: Apache-2.0
// What lives here: RecurrentConfig's validation and its JSON form (stored in checkpoints; recurrent.h).
#include "models/recurrent.h"

#include "graph/json_fields.h"

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
  if (!c.fused) j["fused"] = false;
  if (!c.cell_equations.empty()) j["cell_equations"] = c.cell_equations;  // the default is omitted: configs written before the key stay identical
}

void from_json(const nlohmann::json& j, RecurrentConfig& c) {
  const JsonFields f(j, "RecurrentConfig",
                     {"cell", "input_size", "hidden_size", "layers", "bidirectional", "dropout", "cell_options", "fused",
                      "cell_equations"});
  c = RecurrentConfig{};
  f.read("cell", c.cell);
  f.read("input_size", c.input_size);
  f.read("hidden_size", c.hidden_size);
  f.read("layers", c.layers);
  f.read("bidirectional", c.bidirectional);
  f.read("dropout", c.dropout);
  f.read("cell_options", c.cell_options);
  f.read("fused", c.fused);
  f.read("cell_equations", c.cell_equations);
}

}  // namespace unroll

// SPDX-License-Identifier: Apache-2.0
// What lives here: JSON read from files is bounded (graph/json_bounds.h): deep nesting and oversize text are
// refused before nlohmann builds anything, inside a checkpoint too (/model/config, /data/scaler, with a
// valid CRC and payload checksum), and a /trainer/history with wrong types names the entry (issue 22,
// item 7).
#include <doctest/doctest.h>

#include <string>

#include "graph/json_bounds.h"
#include "io/checkpoint.h"
#include "test_checkpoint_helpers.h"

using namespace unroll;
using namespace unroll::testing;
namespace cd = unroll::checkpoint_detail;

namespace {
std::string nested(int depth) { return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']'); }
}  // namespace

TEST_CASE("parse_bounded_json: depth and size are bounded, brackets inside strings do not count") {
  CHECK(parse_bounded_json(nested(64), "t").is_array());
  CHECK_THROWS_WITH_AS(parse_bounded_json(nested(65), "t"),
                       "t is JSON nested deeper than 64 levels (at byte 64); refused (hint: the file was crafted or "
                       "damaged)",
                       DataError);
  CHECK_THROWS_AS(parse_bounded_json(nested(70000), "t"), DataError);
  CHECK_THROWS_AS(parse_bounded_json(std::string(70000, '{'), "t"), DataError);
  const std::string brackets_in_string = "{\"a\": \"" + std::string(1000, '[') + "\\\"[[[\"}";
  CHECK(parse_bounded_json(brackets_in_string, "t")["a"].get<std::string>().size() == 1004);
  CHECK_THROWS_WITH_AS(parse_bounded_json("[1, 2", "t"), doctest::Contains("t is not valid JSON: "), DataError);
  CHECK_THROWS_WITH_AS(parse_bounded_json("[1, 2]", "t", {.max_depth = 64, .max_bytes = 5}),
                       "t is 6 bytes of JSON, more than the 5 allowed", DataError);
}

TEST_CASE("checkpoint: 70000 nested brackets in /model/config or /data/scaler are refused with exit-2 errors, not a crash") {
  ScratchDir dir;
  TinyNet net(3, 2, 2, DType::f32, 1);
  const auto items = cd::to_items(full_checkpoint(net, 3));
  const std::string path = dir.file("deep.h5");
  for (const char* target : {"/model/config", "/data/scaler"}) {
    CAPTURE(target);
    auto bad = items;
    bool found = false;
    for (auto& it : bad)
      if (it.path == target && !it.is_attribute()) {
        it.str = nested(70000);
        found = true;
      }
    REQUIRE(found);
    cd::save_items(path, bad);  // a valid header CRC and payload checksum over the crafted text
    // On a build without the bound this "loads" and the first dump() or comparison overflows the stack.
    CHECK_THROWS_WITH_AS(load_checkpoint(path).model_config.dump(),
                         doctest::Contains(fmt::format("checkpoint '{}': {} is JSON nested deeper than 64 levels", path, target).c_str()),
                         IoError);
  }
}

TEST_CASE("checkpoint: a /trainer/history with wrong types names the entry (not a JSON type error)") {
  ScratchDir dir;
  TinyNet net(3, 2, 2, DType::f32, 1);
  const std::string path = dir.file("history.h5");
  Checkpoint c = full_checkpoint(net, 3);
  c.progress.history = nlohmann::json::array({{{"epoch", 1}, {"train_loss", 0.5}, {"val_loss", nullptr}},
                                              {{"epoch", 2}, {"train_loss", 0.25}, {"val_loss", "low"}}});
  save_checkpoint(path, c);
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': /trainer/history[1].val_loss must be a number or null, got string",
                                   path).c_str(),
                       IoError);
  c.progress.history = nlohmann::json::array({{{"epoch", -1}, {"train_loss", 0.5}}});
  save_checkpoint(path, c);
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': /trainer/history[0].epoch must be an integer >= 0, got number",
                                   path).c_str(),
                       IoError);
  c.progress.history = nlohmann::json::object();
  save_checkpoint(path, c);
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': /trainer/history must be a JSON array or null, got object", path).c_str(),
                       IoError);
  c.progress.history = nlohmann::json::array({{{"epoch", 1}, {"train_loss", 0.5}, {"val_loss", nullptr}}});
  save_checkpoint(path, c);
  CHECK(load_checkpoint(path).progress.history.size() == 1);
}

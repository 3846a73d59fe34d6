// What lives here: doctest cases for the command line's config parsing (apps/, linked as unroll_cli):
// the fuzz seeds parse and validate; bad usage throws with the exact message; run configs round-trip.
// Built as its own executable (unroll_cli_tests, tests/train.cmake) because unroll_tests does not link apps/.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "apps/commands.h"
#include "apps/run_config.h"
#include "graph/check.h"

using namespace unroll;
using unroll::cli::parse_and_validate;

TEST_CASE("cli: valid command lines parse and validate") {
  CHECK_NOTHROW(parse_and_validate({"train"}));
  CHECK_NOTHROW(parse_and_validate({"train", "--epochs", "3", "--hidden", "16", "--model", "gru_lbr"}));
  CHECK_NOTHROW(parse_and_validate({"train", "--epochs", "3", "--hidden", "16", "--model", "gru-lbr"}));  // older spelling
  CHECK_NOTHROW(parse_and_validate({"train", "--data", "x.csv", "--column", "v", "--history", "8", "--horizon", "4"}));
  CHECK_NOTHROW(parse_and_validate({"train", "--resume", "run/checkpoint.h5", "--epochs", "4"}));
  CHECK_NOTHROW(parse_and_validate({"gradcheck", "--cell", "lstm", "--steps", "2"}));
  CHECK_NOTHROW(parse_and_validate({"sweep", "--cells", "4,8", "--histories", "1,2", "--horizons", "1", "--seeds", "2"}));
  CHECK_NOTHROW(parse_and_validate({"eval", "--checkpoint", "run/best.h5", "--json"}));
  CHECK_NOTHROW(parse_and_validate({"inspect", "file.h5"}));
}

TEST_CASE("cli: bad usage is rejected with a message naming the option") {
  CHECK_THROWS_AS(parse_and_validate({"train", "--frobnicate"}), CLI::ParseError);
  CHECK_THROWS_AS(parse_and_validate({"train", "--hidden", "0"}), CLI::ParseError);
  CHECK_THROWS_AS(parse_and_validate({"train", "--optimizer", "adagrad"}), CLI::ParseError);
  CHECK_THROWS_AS(parse_and_validate({"train", "--dataset", "nottem", "--data", "x.csv"}), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--resume", "c.h5", "--hidden", "16"}),
                       "train: --hidden cannot be combined with --resume (the run's settings come from the checkpoint; "
                       "only --epochs, --patience and --detect-anomaly may change)",
                       UsageError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--model", "lstn"}),
                       doctest::Contains("model: unknown cell 'lstn' (hint: use rnn, lstm, gru or gru_lbr"), UsageError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"eval", "--checkpoint", "c.h5", "--data", "x.csv"}),
                       "--data FILE.csv and --column NAME go together", UsageError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"sweep", "--cells", "1,2,3,4,5,6,7,8,9,10", "--histories",
                                           "1,2,3,4,5,6,7,8,9,10", "--horizons", "1,2,3,4,5,6,7,8,9,10,11", "--seeds",
                                           "10"}),
                       "sweep: 11000 runs is too many (limit 10000; hint: shorten the lists)", UsageError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"gradcheck", "--cell", "lstm", "--steps", "0"}),
                       "gradcheck: --input, --hidden and --steps must be in [1, 64] and --batch in [1, 16] (got 3, 4, 0, 2)",
                       UsageError);
}

TEST_CASE("cli: the training loss and the cosine length options") {
  CHECK_NOTHROW(parse_and_validate({"train", "--loss", "huber", "--huber-delta", "0.05"}));
  CHECK_NOTHROW(parse_and_validate({"train", "--loss", "mse"}));
  CHECK_THROWS_AS(parse_and_validate({"train", "--loss", "l1"}), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--loss", "huber", "--huber-delta", "0"}),
                       "trainer: the Huber delta must be a positive finite number, got 0 (hint: it is in scaled units, "
                       "e.g. 0.02)",
                       UsageError);
  CHECK_NOTHROW(parse_and_validate({"train", "--decay-epochs", "16", "--epochs", "16"}));
  CHECK_THROWS_AS(parse_and_validate({"train", "--decay-epochs", "0"}), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--resume", "c.h5", "--decay-epochs", "4"}),
                       "train: --decay-epochs cannot be combined with --resume (the run's settings come from the "
                       "checkpoint; only --epochs, --patience and --detect-anomaly may change)",
                       UsageError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--resume", "c.h5", "--loss", "huber"}),
                       "train: --loss cannot be combined with --resume (the run's settings come from the checkpoint; "
                       "only --epochs, --patience and --detect-anomaly may change)",
                       UsageError);
}

TEST_CASE("cli: the run config round-trips through JSON and rejects wrong types") {
  cli::RunConfig r;
  r.model.net.recurrent.cell = "gru_lbr";
  r.model.net.recurrent.hidden_size = 7;
  r.model.residual = true;
  r.trainer.optimizer.kind = "rmsprop";
  r.data.horizon = 4;
  r.trainer.loss = "huber";
  r.trainer.huber_delta = 0.03;
  const auto back = cli::RunConfig::from_json(r.to_json());
  CHECK(back.to_json() == r.to_json());
  nlohmann::json bad = r.to_json();
  bad["data"]["history"] = "sixteen";
  CHECK_THROWS_AS(cli::RunConfig::from_json(bad), DataError);
  bad = r.to_json();
  bad["model"]["history"] = 8;  // disagrees with the data's history
  CHECK_THROWS_WITH_AS(cli::RunConfig::from_json(bad), "model: history 8 differs from the data's history 16", UsageError);
}

TEST_CASE("cli: gru_lbr is the one spelling; the older gru-lbr still reads, on the command line and in a run config") {
  CHECK(cli::cell_name("gru-lbr") == "gru_lbr");
  CHECK(cli::cell_name("gru_lbr") == "gru_lbr");
  cli::RunConfig r;
  r.model.net.recurrent.cell = "gru_lbr";
  nlohmann::json old = r.to_json();
  old["model"]["net"]["recurrent"]["cell"] = "gru-lbr";
  const cli::RunConfig back = cli::RunConfig::from_json(old);
  CHECK(back.model.net.recurrent.cell == "gru_lbr");
  CHECK(back.to_json() == r.to_json());
}

// SPDX-License-Identifier: Apache-2.0
// What lives here: doctest cases for the command line's config parsing (apps/, linked as unroll_cli):
// the fuzz seeds parse and validate; bad usage throws with the exact message; run configs round-trip.
// Built as its own executable (unroll_cli_tests, tests/train.cmake) because unroll_tests does not link apps/.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "apps/commands.h"
#include "apps/option_checks.h"
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
                       "only --epochs, --patience and --detect-anomaly may change, and --data may point at "
                       "the run's moved CSV)",
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
                       "--steps: 0: must be an integer from 1 to 64", CLI::ValidationError);
}

TEST_CASE("cli: the training loss and the cosine length options") {
  CHECK_NOTHROW(parse_and_validate({"train", "--loss", "huber", "--huber-delta", "0.05"}));
  CHECK_NOTHROW(parse_and_validate({"train", "--loss", "mse"}));
  CHECK_THROWS_AS(parse_and_validate({"train", "--loss", "l1"}), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--loss", "huber", "--huber-delta", "0"}),
                       "--huber-delta: 0: must be a number > 0", CLI::ValidationError);
  CHECK_NOTHROW(parse_and_validate({"train", "--decay-epochs", "16", "--epochs", "16"}));
  CHECK_THROWS_AS(parse_and_validate({"train", "--decay-epochs", "0"}), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--resume", "c.h5", "--decay-epochs", "4"}),
                       "train: --decay-epochs cannot be combined with --resume (the run's settings come from the "
                       "checkpoint; only --epochs, --patience and --detect-anomaly may change, and --data may point at "
                       "the run's moved CSV)",
                       UsageError);
  CHECK_THROWS_WITH_AS(parse_and_validate({"train", "--resume", "c.h5", "--loss", "huber"}),
                       "train: --loss cannot be combined with --resume (the run's settings come from the checkpoint; "
                       "only --epochs, --patience and --detect-anomaly may change, and --data may point at "
                       "the run's moved CSV)",
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

namespace {
// The one line `unroll` prints for args (without "unroll: "), or "" when they parse and validate.
// *parse_error says whether CLI11 (an option's value) or a command's validate refused them.
std::string parse_message(const std::vector<std::string>& args, bool* parse_error = nullptr) {
  if (parse_error) *parse_error = false;
  try {
    parse_and_validate(args);
  } catch (const CLI::ParseError& e) {
    if (parse_error) *parse_error = true;
    return cli::describe_parse_error(e, args.empty() ? "" : args[0]);
  } catch (const unroll::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("cli: option errors are one short line naming the option, the value and the allowed range") {
  CHECK(parse_message({"train", "--hidden", "0"}) == "train --hidden 0: must be an integer from 1 to 65536");
  CHECK(parse_message({"train", "--lr", "abc"}) == "train --lr abc: not a number (must be a number >= 0)");
  CHECK(parse_message({"train", "--lr", "nan"}) == "train --lr nan: must be a number >= 0");
  CHECK(parse_message({"train", "--lr", "1", "--lr", "2"}) == "train --lr: given 2 times (give it once)");
  CHECK(parse_message({"train", "--seed", "-1"}) == "train --seed -1: must be an integer from 0 to 18446744073709551615");
  CHECK(parse_message({"train", "--seed", "99999999999999999999999"}) ==
        "train --seed 99999999999999999999999: must be an integer from 0 to 18446744073709551615");
  CHECK(parse_message({"train", "--seed", "18446744073709551615"}).empty());
  CHECK(parse_message({"train", "--epochs", "1.5"}) == "train --epochs 1.5: not an integer (must be an integer from 0 to 1000000)");
  CHECK(parse_message({"train", "--dropout", "1"}) == "train --dropout 1: must be a number from 0 to 0.99");
  CHECK(parse_message({"train", "--train-fraction", "0"}) == "train --train-fraction 0: must be a number > 0 and < 1");
  CHECK(parse_message({"train", "--hidden"}) == "train --hidden: needs a value");
  CHECK(parse_message({"train", "--residual", "maybe"}) == "train --residual maybe: must be true or false");
  CHECK(parse_message({"gradcheck", "--cell", "lstm", "--atol", "-1"}) == "gradcheck --atol -1: must be a number >= 0");
  CHECK(parse_message({"gradcheck", "--cell", "lstm", "--rtol", "nan"}) == "gradcheck --rtol nan: must be a number >= 0");
  CHECK(parse_message({"bench", "--threads", "100000"}) == "bench --threads 100000: must be an integer from 0 to 1024");
  CHECK(parse_message({"bench", "--seq", "100000000"}) == "bench --seq 100000000: must be an integer from 1 to 100000");
  CHECK(parse_message({"sweep", "--cells", "8,0"}) == "sweep --cells 0: must be an integer from 1 to 4096");
  CHECK(parse_message({"train", "--hidden", std::string(500, '9')}).size() < 100);  // long values are cut
}

TEST_CASE("cli: every option of every command: a bad or repeated value gives one short line naming the option") {
  cli::Cli cli;
  int checked = 0;
  for (const cli::CommandEntry& e : cli.table)
    for (const CLI::Option* opt : e.sub->get_options()) {
      if (opt->get_lnames().empty() || opt->get_items_expected_max() == 0) continue;  // positionals, flags, --help
      const std::string command = e.sub->get_name(), name = opt->get_name();
      CAPTURE(command);
      CAPTURE(name);
      for (const char* bad : {"abc", "-1", "1e999", "99999999999999999999999", "nan"}) {
        bool parse_error = false;
        const std::string m = parse_message({command, name, bad}, &parse_error);
        CAPTURE(m);
        CHECK(m.find('\n') == std::string::npos);
        CHECK(m.size() <= (parse_error ? 120u : 200u));
        if (parse_error && m.find(bad) != std::string::npos) CHECK(m.rfind(command + " " + name + " " + bad + ": ", 0) == 0);
      }
      const std::string once = parse_message({command, name, "1"}), twice = parse_message({command, name, "1", name, "1"});
      CAPTURE(twice);
      CHECK(twice.size() <= 200);
      if (opt->get_multi_option_policy() == CLI::MultiOptionPolicy::Throw && opt->get_items_expected_max() == 1)
        CHECK((twice == command + " " + name + ": given 2 times (give it once)" || twice == once));
      ++checked;
    }
  CHECK(checked > 60);
}

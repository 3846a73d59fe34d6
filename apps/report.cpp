// SPDX-License-Identifier: Apache-2.0
// What lives here: metrics JSON, the comparison table, forecast CSV and gnuplot plots.
#include "apps/report.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "graph/check.h"

namespace unroll::cli {

nlohmann::json metrics_json(const Evaluation& e) {
  return {{"test_rmse", e.rmse}, {"test_mae", e.mae}, {"windows", e.prediction.size()},
          {"baselines", e.baselines.to_json()}};
}

std::string comparison_table(const Evaluation& e, const std::string& model_label, int64_t /*history*/) {
  std::ostringstream out;
  out << fmt::format("  {:<26} {:>10} {:>10}\n", "test split (scaled)", "RMSE", "MAE");
  out << fmt::format("  {:<26} {:>10.5f} {:>10.5f}\n", model_label, e.rmse, e.mae);
  for (const BaselineScore& b : e.baselines.all()) {
    if (b.score)
      out << fmt::format("  {:<26} {:>10.5f} {:>10.5f}  {}{}\n", b.name, b.score->rmse, b.score->mae,
                         e.rmse < b.score->rmse ? "(model better)" : "(model NOT better)",
                         b.note.empty() ? "" : "  [" + b.note + "]");
    else
      out << fmt::format("  {:<26} {:>10} {:>10}  [{}]\n", b.name, "n/a", "n/a", b.note);
  }
  const BaselineScore best = e.baselines.best();
  if (best.score)
    out << fmt::format("  verdict: the model is {} than the best baseline, {} ({:.5f} vs {:.5f})\n",
                       e.rmse < best.score->rmse ? "better" : "NOT better", best.name, e.rmse, best.score->rmse);
  return out.str();
}

std::string forecast_csv(const Evaluation& e, const Scaler& scaler) {
  std::string text = "index,prediction,target\n";
  for (size_t i = 0; i < e.prediction.size(); ++i)
    text += fmt::format("{},{:.9g},{:.9g}\n", e.targets[i], scaler.inverse(e.prediction[i]), scaler.inverse(e.truth[i]));
  return text;
}

void write_forecast_csv(const std::string& path, const Evaluation& e, const Scaler& scaler) {
  write_file_atomically(path, forecast_csv(e, scaler));
}

std::string run_gnuplot(const std::string& dir, const std::string& script, const std::vector<std::string>& outputs) {
  return run_tool("gnuplot", {script}, dir, outputs, "gnuplot is not installed (hint: apt-get install gnuplot-nox, or pass --no-plot)");
}

std::string run_tool(const std::string& tool, const std::vector<std::string>& args, const std::string& dir,
                     const std::vector<std::string>& outputs, const std::string& missing) {
  const auto remove_temporaries = [&] {
    for (const auto& png : outputs) ::unlink((dir + "/" + temporary_name(png)).c_str());
  };
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return fmt::format("cannot start {}: {}", tool, std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;  // the CLI ignores SIGPIPE and SIGXFSZ (apps/signals.h); the tool gets the usual actions
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> words{tool};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, tool.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    return spawned == ENOENT ? missing : fmt::format("cannot start {}: {}", tool, std::strerror(spawned));
  }
  std::string output;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 4096) output.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    remove_temporaries();
    std::replace(output.begin(), output.end(), '\n', ' ');
    while (!output.empty() && output.back() == ' ') output.pop_back();
    const std::string how = WIFSIGNALED(status) ? fmt::format("was killed by signal {}", WTERMSIG(status))
                                                : fmt::format("failed with exit code {}", WEXITSTATUS(status));
    return fmt::format("{} {}{}{}", tool, how, output.empty() ? "" : ": ", output.substr(0, 200));
  }
  for (const auto& png : outputs) {
    const std::string tmp = dir + "/" + temporary_name(png), final_path = dir + "/" + png;
    check_replaceable(final_path);
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      const int err = errno;
      remove_temporaries();
      return fmt::format("cannot write {}: {}", final_path, std::strerror(err));
    }
  }
  return "";
}


std::string make_plots(const std::string& dir, const nlohmann::json& history) {
  namespace fs = std::filesystem;
  std::string losses = "# epoch train_loss val_loss\n";
  for (const auto& h : history)
    losses += fmt::format("{} {} {}\n", h.value("epoch", int64_t{0}), h["train_loss"].is_number() ? h["train_loss"].get<double>() : NAN,
                          h["val_loss"].is_number() ? h["val_loss"].get<double>() : NAN);
  write_file_atomically((fs::path(dir) / "loss.dat").string(), losses);
  // Every name in the script is relative to dir (gnuplot runs there): no path is ever quoted into it.
  std::vector<std::string> outputs = {"loss.png"};
  std::string script = fmt::format(
      "set terminal pngcairo size 1000,500\n"
      "set datafile missing 'nan'\n"
      "set output '{}'\nset title 'loss per epoch (scaled MSE)'\nset xlabel 'epoch'\nset ylabel 'MSE'\n"
      "set logscale y\nplot 'loss.dat' using 1:2 with linespoints title 'train', '' using 1:3 with linespoints title "
      "'validation'\nunset logscale y\n",
      temporary_name("loss.png"));
  if (fs::exists(fs::path(dir) / "forecast.csv")) {
    outputs.push_back("forecast.png");
    script += fmt::format(
        "set output '{}'\nset datafile separator ','\nset key autotitle columnhead\n"
        "set title 'test split: forecast vs truth (original units)'\nset xlabel 'series index'\nset ylabel 'value'\n"
        "plot 'forecast.csv' using 1:3 with lines lw 2 title 'truth', '' using 1:2 with lines title 'forecast'\n",
        temporary_name("forecast.png"));
  }
  for (const auto& png : outputs) check_replaceable((fs::path(dir) / png).string());
  write_file_atomically((fs::path(dir) / "plots.gp").string(), script);
  return run_gnuplot(dir, "plots.gp", outputs);
}

}  // namespace unroll::cli

// What lives here: metrics JSON, the comparison table, forecast CSV and gnuplot plots.
#include "apps/report.h"

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/check.h"

namespace unroll::cli {

nlohmann::json metrics_json(const Evaluation& e) {
  return {{"test_rmse", e.rmse}, {"test_mae", e.mae}, {"windows", e.prediction.size()},
          {"baselines", e.baselines.to_json()}};
}

std::string comparison_table(const Evaluation& e, const std::string& model_label, int64_t history) {
  std::ostringstream out;
  auto row = [&](const std::string& name, double rmse, double mae) {
    out << fmt::format("  {:<24} {:>10.5f} {:>10.5f}  {}\n", name, rmse, mae,
                       name == model_label ? "" : (e.rmse < rmse ? "(model better)" : "(model NOT better)"));
  };
  out << fmt::format("  {:<24} {:>10} {:>10}\n", "test split (scaled)", "RMSE", "MAE");
  row(model_label, e.rmse, e.mae);
  row("persistence", e.baselines.persistence.rmse, e.baselines.persistence.mae);
  row(fmt::format("AR({})", history), e.baselines.ar.rmse, e.baselines.ar.mae);
  if (e.baselines.seasonal_naive)
    row(fmt::format("seasonal-naive({})", e.baselines.seasonal_period), e.baselines.seasonal_naive->rmse,
        e.baselines.seasonal_naive->mae);
  return out.str();
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    UNROLL_CHECK(f.good(), IoError, "{}: cannot open for writing (hint: check the folder exists and is writable)", tmp);
    f << text;
    f.flush();
    UNROLL_CHECK(f.good(), IoError, "{}: write failed (disk full?)", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  UNROLL_CHECK(!ec, IoError, "{}: cannot rename to {} ({})", tmp, path, ec.message());
}

void write_forecast_csv(const std::string& path, const Evaluation& e, const Scaler& scaler) {
  std::string text = "index,prediction,target\n";
  for (size_t i = 0; i < e.prediction.size(); ++i)
    text += fmt::format("{},{:.9g},{:.9g}\n", e.targets[i], scaler.inverse(e.prediction[i]), scaler.inverse(e.truth[i]));
  write_text_file(path, text);
}

// pclose's wait status of `sh -c "gnuplot ..."` in words: 127 is the shell's "command not found", 126
// "not executable", above 128 the shell's code for a signal; a raw status means nothing to a user.
std::string describe_gnuplot_status(int status) {
  if (status == -1) return fmt::format("cannot wait for gnuplot: {}", std::strerror(errno));
  if (WIFSIGNALED(status)) return fmt::format("gnuplot was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 127) return "gnuplot is not installed (not found on PATH)";
  if (code == 126) return "gnuplot was found but cannot be run (permission denied)";
  if (code > 128 && code < 128 + 65)
    return fmt::format("gnuplot was killed by signal {} ({})", code - 128, strsignal(code - 128));
  return fmt::format("gnuplot failed with exit code {}", code);
}

std::string make_plots(const std::string& dir, const nlohmann::json& history) {
  namespace fs = std::filesystem;
  std::string losses = "# epoch train_loss val_loss\n";
  for (const auto& h : history)
    losses += fmt::format("{} {} {}\n", h.value("epoch", int64_t{0}), h["train_loss"].is_number() ? h["train_loss"].get<double>() : NAN,
                          h["val_loss"].is_number() ? h["val_loss"].get<double>() : NAN);
  const std::string loss_dat = (fs::path(dir) / "loss.dat").string();
  write_text_file(loss_dat, losses);
  const std::string forecast = (fs::path(dir) / "forecast.csv").string();
  std::string script = fmt::format(
      "set terminal pngcairo size 1000,500\n"
      "set datafile missing 'nan'\n"
      "set output '{0}/loss.png'\nset title 'loss per epoch (scaled MSE)'\nset xlabel 'epoch'\nset ylabel 'MSE'\n"
      "set logscale y\nplot '{1}' using 1:2 with linespoints title 'train', '' using 1:3 with linespoints title "
      "'validation'\nunset logscale y\n",
      dir, loss_dat);
  if (fs::exists(forecast))
    script += fmt::format(
        "set output '{0}/forecast.png'\nset datafile separator ','\nset key autotitle columnhead\n"
        "set title 'test split: forecast vs truth (original units)'\nset xlabel 'series index'\nset ylabel 'value'\n"
        "plot '{1}' using 1:3 with lines lw 2 title 'truth', '' using 1:2 with lines title 'forecast'\n",
        dir, forecast);
  const std::string script_path = (fs::path(dir) / "plots.gp").string();
  write_text_file(script_path, script);
  const std::string cmd = fmt::format("gnuplot '{}' 2>&1", script_path);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return "cannot start gnuplot";
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
  const int status = pclose(pipe);
  if (status == 0) return "";
  while (!output.empty() && output.back() == '\n') output.pop_back();
  std::replace(output.begin(), output.end(), '\n', ' ');
  return describe_gnuplot_status(status) + (output.empty() ? "" : ": " + output.substr(0, 200));
}

}  // namespace unroll::cli

// What lives here: metrics JSON, the comparison table, forecast CSV and gnuplot plots.
#include "apps/report.h"

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

std::string make_plots(const std::string& dir, const nlohmann::json& history) {
  namespace fs = std::filesystem;
  std::string losses = "# epoch train_loss val_loss\n";
  for (const auto& h : history)
    losses += fmt::format("{} {} {}\n", h["epoch"].get<int64_t>(), h["train_loss"].is_number() ? h["train_loss"].get<double>() : NAN,
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
  if (status != 0) {
    while (!output.empty() && output.back() == '\n') output.pop_back();
    return fmt::format("gnuplot failed (exit status {}){}{}", status, output.empty() ? "" : ": ", output.substr(0, 200));
  }
  return "";
}

}  // namespace unroll::cli

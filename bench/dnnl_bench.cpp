// SPDX-License-Identifier: Apache-2.0
// dnnl_bench: oneDNN baseline benchmarks for unroll.
//
// What lives here
// ---------------
// A standalone program (oneDNN + header-only nlohmann-json, C++17) that times
// on the CPU engine, float32:
//   * raw oneDNN matmul GFLOP/s (median) for a few fixed shapes
//     (table kMatmulShapes; primitive created once, only execute() timed);
//   * oneDNN's fused RNN primitives, forward_training + backward, for the
//     benchmark configs a/b/c (table kConfigs, same shapes as torch_bench.py)
//     and cells lstm, gru (= lbr_gru, PyTorch's GRU form), gru_cho (classic
//     oneDNN/Cho GRU) and rnn (vanilla tanh).  Only the recurrent primitive is
//     timed: no head, loss or optimizer.  All memories are allocated once;
//     the reorders of the user weights (ldigo) into the layouts chosen by the
//     forward and backward primitives (format_tag::any) are done once before
//     timing and are EXCLUDED from the timings.  The initial state is zero
//     (src_iter omitted) and the final state is not requested (dst_iter
//     omitted), like a PyTorch module called with h0=None whose final state
//     is unused.
//
// Threads: oneDNN here uses the OpenMP runtime.  OMP_NUM_THREADS is respected
// if set; otherwise 2 threads are used.  Benchmark on an otherwise idle
// machine or through bench/run_prioritized.sh: the 1-min load average (and
// the scheduler autogroup) is recorded and a warning is printed when the load
// exceeds threads + 1 (e.g. a parallel build running).
//
// Usage: dnnl_bench [--config a|b|c|all] [--cell lstm|gru|gru_cho|rnn|all]
//                   [--reps N] [--json] [--matmul]
//   --matmul only runs the matmul part; without it both parts run.
// This file: tables, CLI, timing loops and the JSON; the primitive setup of
// each cell is in dnnl_rnn_cells.{h,cpp}.

#include "dnnl_rnn_cells.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using namespace dnnl_bench;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
using json = nlohmann::json;

constexpr int kDefaultThreads = 2;
constexpr int kDefaultReps = 30;
constexpr int kWarmupReps = 5;
constexpr int kMatmulRepsFactor = 20;  // matmuls are short: reps and warm-up x this

// ---------------------------------------------------------------------------
// Benchmark tables
// ---------------------------------------------------------------------------

struct Config {
    const char *name;
    const char *label;
    memory::dim input, hidden, seq_len, batch, layers;
};

// Same shapes as bench/torch_bench.py (head/loss are not part of this bench).
const std::vector<Config> kConfigs = {
        {"a", "LHC", 1, 128, 16, 32, 1},
        {"b", "medium", 64, 256, 50, 32, 1},
        {"c", "char", 128, 512, 100, 16, 2},
};

struct MatmulShape {
    memory::dim m, k, n;
};

const std::vector<MatmulShape> kMatmulShapes = {
        {32, 129, 512},
        {256, 512, 2048},
};

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const double pos = (v.size() - 1) * q / 100.0;
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = static_cast<size_t>(std::ceil(pos));
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

double median(const std::vector<double> &v) { return percentile(v, 50.0); }

// 1-min load average; warns when other processes compete for the CPUs (then
// OpenMP threads spin against them and timings are not trustworthy).
double check_machine_quiet(int threads, const char *when) {
    double load[1] = {0.0};
    if (getloadavg(load, 1) == 1 && load[0] > threads + 1)
        std::fprintf(stderr,
                "WARNING: 1-min load average %.1f %s the run with %d threads: other "
                "processes are competing, timings are not trustworthy\n",
                load[0], when, threads);
    return load[0];
}

// Scheduler autogroup and its nice value (see bench/run_prioritized.sh).
std::string autogroup() {
    std::ifstream f("/proc/self/autogroup");
    std::string line;
    std::getline(f, line);
    return line;
}

// ---------------------------------------------------------------------------
// Matmul
// ---------------------------------------------------------------------------

json bench_matmul(const dnnl::engine &eng, dnnl::stream &strm,
        const MatmulShape &s, int reps) {
    memory::desc a_md({s.m, s.k}, dt::f32, tag::ab);
    memory::desc b_md({s.k, s.n}, dt::f32, tag::ab);
    memory::desc c_md({s.m, s.n}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), eng);
    dnnl::matmul mm(pd);

    memory a(a_md, eng), b(b_md, eng), c(c_md, eng);
    fill_uniform(a, 1.f);
    fill_uniform(b, 1.f);
    const std::unordered_map<int, memory> args
            = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};

    const int n = reps * kMatmulRepsFactor;
    const int warmup = kWarmupReps * kMatmulRepsFactor;
    std::vector<double> ms;
    for (int i = 0; i < warmup + n; ++i) {
        const auto t0 = Clock::now();
        mm.execute(strm, args);
        strm.wait();
        if (i >= warmup) ms.push_back(ms_since(t0));
    }
    const double flop = 2.0 * s.m * s.k * s.n;
    auto gflops = [&](double t_ms) { return flop / (t_ms * 1e-3) / 1e9; };
    return {{"m", s.m}, {"k", s.k}, {"n", s.n}, {"median_ms", median(ms)},
            {"gflops_median", gflops(median(ms))},
            // p90 time -> p10 throughput and vice versa
            {"gflops_p10", gflops(percentile(ms, 90))},
            {"gflops_p90", gflops(percentile(ms, 10))}, {"reps", n},
            {"impl", pd.impl_info_str()}};
}

// ---------------------------------------------------------------------------
// RNN primitives
// ---------------------------------------------------------------------------

// oneDNN can only stack layers inside one primitive when every layer has the
// same input width, so a stack whose first layer is narrower/wider than the
// hidden size is split into [layer 0] + [layers 1..L-1].
std::vector<SegmentShape> plan_segments(const Config &c) {
    if (c.layers == 1 || c.input == c.hidden)
        return {{c.seq_len, c.batch, c.input, c.hidden, c.layers}};
    return {{c.seq_len, c.batch, c.input, c.hidden, 1},
            {c.seq_len, c.batch, c.hidden, c.hidden, c.layers - 1}};
}

json bench_rnn(const dnnl::engine &eng, dnnl::stream &strm, const Config &c,
        const CellInfo &ci, int reps) {
    std::vector<Segment> segs = make_stack(eng, strm, ci, plan_segments(c));

    std::vector<double> fwd_ms, bwd_ms, total_ms;
    for (int rep = 0; rep < kWarmupReps + reps; ++rep) {
        const auto t0 = Clock::now();
        for (auto &seg : segs) seg.fwd.execute(strm, seg.fwd_args);
        strm.wait();
        const auto t1 = Clock::now();
        for (auto it = segs.rbegin(); it != segs.rend(); ++it)
            it->bwd.execute(strm, it->bwd_args);
        strm.wait();
        if (rep < kWarmupReps) continue;
        fwd_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        bwd_ms.push_back(ms_since(t1));
        total_ms.push_back(ms_since(t0));
    }
    json impls = json::array();
    for (const auto &seg : segs)
        impls.push_back(std::string(seg.pds.fwd.impl_info_str()) + " / "
                + seg.pds.bwd.impl_info_str());
    return {{"config", c.name}, {"model", ci.name}, {"kind", "dnnl_fused"},
            {"median_ms", median(total_ms)}, {"p10_ms", percentile(total_ms, 10)},
            {"p90_ms", percentile(total_ms, 90)},
            {"min_ms", *std::min_element(total_ms.begin(), total_ms.end())},
            {"fwd_median_ms", median(fwd_ms)},
            {"bwd_median_ms", median(bwd_ms)}, {"steps", reps},
            {"primitives", segs.size()}, {"impl", impls}};
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

struct Options {
    std::string config = "all", cell = "all";
    int reps = kDefaultReps;
    bool json = false, matmul_only = false;
};

[[noreturn]] void usage(const char *msg) {
    std::fprintf(stderr,
            "%s\nusage: dnnl_bench [--config a|b|c|all] "
            "[--cell lstm|gru|gru_cho|rnn|all] [--reps N] [--json] [--matmul]\n",
            msg);
    std::exit(2);
}

Options parse(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--config") o.config = value();
        else if (a == "--cell") o.cell = value();
        else if (a == "--reps") o.reps = std::max(1, std::atoi(value().c_str()));
        else if (a == "--json") o.json = true;
        else if (a == "--matmul") o.matmul_only = true;
        else usage(("unknown argument " + a).c_str());
    }
    auto known = [](const std::string &v, auto &table) {
        return v == "all"
                || std::any_of(table.begin(), table.end(),
                        [&](const auto &e) { return v == e.name; });
    };
    if (!known(o.config, kConfigs)) usage("bad --config");
    if (!known(o.cell, kCells)) usage("bad --cell");
    return o;
}

int main_impl(int argc, char **argv) {
    const Options opt = parse(argc, argv);
    if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(kDefaultThreads);

    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    const auto *ver = dnnl_version();

    json out;
    out["config"] = {{"onednn", std::to_string(ver->major) + "."
                             + std::to_string(ver->minor) + "."
                             + std::to_string(ver->patch)},
            {"cpu_runtime", "OpenMP"}, {"threads", omp_get_max_threads()},
            {"dtype", "f32"}, {"warmup_reps", kWarmupReps}, {"reps", opt.reps},
            {"matmul_reps", opt.reps * kMatmulRepsFactor},
            {"matmul_warmup_reps", kWarmupReps * kMatmulRepsFactor},
            {"weight_reorders", "excluded (done once before timing)"},
            {"timed", "forward_training + backward of the RNN primitive(s) only"},
            {"loadavg_1min_start", check_machine_quiet(omp_get_max_threads(), "before")},
            {"autogroup", autogroup()}};
    json configs = json::object();
    for (const auto &c : kConfigs)
        configs[c.name] = {{"label", c.label}, {"input", c.input}, {"hidden", c.hidden},
                {"seq_len", c.seq_len}, {"batch", c.batch}, {"layers", c.layers}};
    out["config"]["configs"] = configs;

    if (!opt.json)
        std::printf("oneDNN %s, %d OpenMP threads\n",
                out["config"]["onednn"].get<std::string>().c_str(),
                omp_get_max_threads());

    out["matmul"] = json::array();
    for (const auto &s : kMatmulShapes) {
        json r = bench_matmul(eng, strm, s, opt.reps);
        if (!opt.json)
            std::printf("matmul [%lldx%lld]x[%lldx%lld]: %8.4f ms  %7.1f GFLOP/s  (%s)\n",
                    (long long)s.m, (long long)s.k, (long long)s.k, (long long)s.n,
                    r["median_ms"].get<double>(), r["gflops_median"].get<double>(),
                    r["impl"].get<std::string>().c_str());
        out["matmul"].push_back(r);
    }

    out["results"] = json::array();
    if (!opt.matmul_only) {
        if (!opt.json)
            std::printf("%-12s%-9s%11s%10s%10s%10s%10s\n", "cfg", "cell", "median_ms",
                    "p10_ms", "p90_ms", "fwd_ms", "bwd_ms");
        for (const auto &c : kConfigs) {
            if (opt.config != "all" && opt.config != c.name) continue;
            for (const auto &ci : kCells) {
                if (opt.cell != "all" && opt.cell != ci.name) continue;
                json r = bench_rnn(eng, strm, c, ci, opt.reps);
                if (!opt.json) {
                    std::printf("%-3s%-9s%-9s%11.3f%10.3f%10.3f%10.3f%10.3f\n",
                            c.name, c.label, ci.name, r["median_ms"].get<double>(),
                            r["p10_ms"].get<double>(), r["p90_ms"].get<double>(),
                            r["fwd_median_ms"].get<double>(),
                            r["bwd_median_ms"].get<double>());
                    std::fflush(stdout);
                }
                out["results"].push_back(r);
            }
        }
    }
    out["config"]["loadavg_1min_end"] = check_machine_quiet(omp_get_max_threads(), "after");
    if (opt.json) std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    try {
        return main_impl(argc, argv);
    } catch (const dnnl::error &e) {
        std::fprintf(stderr, "oneDNN error: %s (status %d)\n", e.what(), (int)e.status);
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

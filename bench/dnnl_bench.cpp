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

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <unordered_map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

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

enum class Cell { lstm, lbr_gru, gru_cho, rnn_tanh };

struct CellInfo {
    Cell cell;
    const char *name;
    int gates;        // G in the ldigo weights
    int bias_gates;   // lbr_gru has one extra bias block
    bool has_c_state; // LSTM cell state
};

const std::vector<CellInfo> kCells = {
        {Cell::lstm, "lstm", 4, 4, true},
        {Cell::lbr_gru, "gru", 3, 4, false},
        {Cell::gru_cho, "gru_cho", 3, 3, false},
        {Cell::rnn_tanh, "rnn", 1, 1, false},
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

std::mt19937 &rng() {
    static std::mt19937 gen(42);
    return gen;
}

void fill_uniform(memory &mem, float bound) {
    std::uniform_real_distribution<float> dist(-bound, bound);
    auto *p = static_cast<float *>(mem.get_data_handle());
    const size_t n = mem.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < n; ++i) p[i] = dist(rng());
}

void fill_zero(memory &mem) {
    std::memset(mem.get_data_handle(), 0, mem.get_desc().get_size());
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

// Shapes of one RNN primitive: `layers` stacked unidirectional layers with
// input width `input` (oneDNN requires input == hidden when layers > 1).
struct SegmentShape {
    memory::dim seq_len, batch, input, hidden, layers;
};

struct RnnDescs {
    memory::desc src_layer, weights_layer, weights_iter, bias, dst_layer;
    memory::desc none; // zero desc: optional argument not used
};

RnnDescs make_descs(const CellInfo &ci, const SegmentShape &s) {
    RnnDescs d;
    d.src_layer = memory::desc({s.seq_len, s.batch, s.input}, dt::f32, tag::tnc);
    d.dst_layer = memory::desc({s.seq_len, s.batch, s.hidden}, dt::f32, tag::tnc);
    d.weights_layer = memory::desc(
            {s.layers, 1, s.input, ci.gates, s.hidden}, dt::f32, tag::any);
    d.weights_iter = memory::desc(
            {s.layers, 1, s.hidden, ci.gates, s.hidden}, dt::f32, tag::any);
    d.bias = memory::desc({s.layers, 1, ci.bias_gates, s.hidden}, dt::f32, tag::ldgo);
    return d;
}

// Forward and backward primitive descriptors for one cell type, behind the
// common rnn_primitive_desc_base so the rest of the code is cell-agnostic.
struct RnnPds {
    dnnl::rnn_primitive_desc_base fwd, bwd;
};

template <typename Fwd, typename Bwd, bool kHasCState, typename... Extra>
RnnPds make_pds_with(
        const dnnl::engine &eng, const RnnDescs &d, Extra... extra_leading_args) {
    constexpr auto dir = dnnl::rnn_direction::unidirectional_left2right;
    const auto &n = d.none;
    auto build = [&](auto fwd_desc, auto bwd_desc) {
        typename Fwd::primitive_desc fwd_pd(fwd_desc, eng);
        typename Bwd::primitive_desc bwd_pd(bwd_desc, eng, fwd_pd);
        return RnnPds {fwd_pd, bwd_pd};
    };
    // Backward diff descs mirror the forward descs (weights: any).
    if constexpr (kHasCState) {
        return build(typename Fwd::desc(dnnl::prop_kind::forward_training,
                             extra_leading_args..., dir, d.src_layer, n, n,
                             d.weights_layer, d.weights_iter, d.bias,
                             d.dst_layer, n, n),
                typename Bwd::desc(dnnl::prop_kind::backward,
                        extra_leading_args..., dir, d.src_layer, n, n,
                        d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
                        n, n, d.src_layer, n, n, d.weights_layer,
                        d.weights_iter, d.bias, d.dst_layer, n, n));
    } else {
        return build(typename Fwd::desc(dnnl::prop_kind::forward_training,
                             extra_leading_args..., dir, d.src_layer, n,
                             d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
                             n),
                typename Bwd::desc(dnnl::prop_kind::backward,
                        extra_leading_args..., dir, d.src_layer, n,
                        d.weights_layer, d.weights_iter, d.bias, d.dst_layer, n,
                        d.src_layer, n, d.weights_layer, d.weights_iter, d.bias,
                        d.dst_layer, n));
    }
}

RnnPds make_pds(const dnnl::engine &eng, const CellInfo &ci, const SegmentShape &s) {
    const RnnDescs d = make_descs(ci, s);
    switch (ci.cell) {
        case Cell::lstm:
            return make_pds_with<dnnl::lstm_forward, dnnl::lstm_backward, true>(eng, d);
        case Cell::lbr_gru:
            return make_pds_with<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward, false>(
                    eng, d);
        case Cell::gru_cho:
            return make_pds_with<dnnl::gru_forward, dnnl::gru_backward, false>(eng, d);
        case Cell::rnn_tanh:
            return make_pds_with<dnnl::vanilla_rnn_forward, dnnl::vanilla_rnn_backward,
                    false>(eng, d, dnnl::algorithm::eltwise_tanh);
    }
    throw std::logic_error("unknown cell");
}

// All execute() arguments an RNN primitive can take (optional ones are
// skipped when the primitive descriptor reports a zero desc for them).
const std::vector<int> kForwardArgs = {DNNL_ARG_SRC_LAYER, DNNL_ARG_WEIGHTS_LAYER,
        DNNL_ARG_WEIGHTS_ITER, DNNL_ARG_BIAS, DNNL_ARG_DST_LAYER, DNNL_ARG_WORKSPACE};
const std::vector<int> kDiffArgs = {DNNL_ARG_DIFF_SRC_LAYER,
        DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER, DNNL_ARG_DIFF_BIAS,
        DNNL_ARG_DIFF_DST_LAYER};

bool is_weights_arg(int arg) {
    return arg == DNNL_ARG_WEIGHTS_LAYER || arg == DNNL_ARG_WEIGHTS_ITER;
}

// One RNN primitive pair (a stack of layers) with all its memories.
struct Segment {
    RnnPds pds;
    dnnl::primitive fwd, bwd;
    std::unordered_map<int, memory> fwd_args, bwd_args;
};

memory::desc md_of(const dnnl::rnn_primitive_desc_base &pd, int arg) {
    return pd.query_md(dnnl::query::exec_arg_md, arg);
}

// Creates the primitives and memories of one segment.  `src_layer`, if given,
// is the previous segment's dst_layer memory (stacking).  User weights are
// created in ldigo and reordered once into each primitive's chosen layout.
Segment make_segment(const dnnl::engine &eng, dnnl::stream &strm,
        const CellInfo &ci, const SegmentShape &s, const memory *src_layer) {
    Segment seg;
    seg.pds = make_pds(eng, ci, s);
    seg.fwd = dnnl::primitive(seg.pds.fwd);
    seg.bwd = dnnl::primitive(seg.pds.bwd);

    const float bound = 1.f / std::sqrt(static_cast<float>(s.hidden));
    std::map<int, memory> user_weights;
    auto user_weight = [&](int arg) -> memory & {
        auto it = user_weights.find(arg);
        if (it == user_weights.end()) {
            const memory::dim in = arg == DNNL_ARG_WEIGHTS_LAYER ? s.input : s.hidden;
            memory m({{s.layers, 1, in, ci.gates, s.hidden}, dt::f32, tag::ldigo}, eng);
            fill_uniform(m, bound);
            it = user_weights.emplace(arg, m).first;
        }
        return it->second;
    };
    // A memory for `arg` in the layout `pd` wants, initialised once.
    auto materialize = [&](const dnnl::rnn_primitive_desc_base &pd, int arg) {
        const memory::desc md = md_of(pd, arg);
        if (arg == DNNL_ARG_SRC_LAYER && src_layer) return *src_layer;
        memory m(md, eng);
        if (is_weights_arg(arg)) {
            dnnl::reorder(user_weight(arg), m).execute(strm, user_weight(arg), m);
            strm.wait();
        } else if (arg == DNNL_ARG_WORKSPACE || arg == DNNL_ARG_DST_LAYER) {
            fill_zero(m); // written by the forward pass
        } else {
            fill_uniform(m, arg == DNNL_ARG_BIAS ? bound : 1.f);
        }
        return m;
    };

    for (int arg : kForwardArgs) {
        if (md_of(seg.pds.fwd, arg).get_size() == 0) continue;
        seg.fwd_args.emplace(arg, materialize(seg.pds.fwd, arg));
    }
    // Backward reuses forward memories (same layout) and the workspace;
    // weights get their own copy if the backward layout differs.
    for (int arg : kForwardArgs) {
        const memory::desc md = md_of(seg.pds.bwd, arg);
        if (md.get_size() == 0) continue;
        auto it = seg.fwd_args.find(arg);
        const bool reuse = it != seg.fwd_args.end()
                && (it->second.get_desc() == md || arg == DNNL_ARG_WORKSPACE);
        seg.bwd_args.emplace(arg, reuse ? it->second : materialize(seg.pds.bwd, arg));
    }
    for (int arg : kDiffArgs) {
        const memory::desc md = md_of(seg.pds.bwd, arg);
        if (md.get_size() == 0) continue;
        memory m(md, eng);
        if (arg == DNNL_ARG_DIFF_DST_LAYER) fill_uniform(m, 1.f); else fill_zero(m);
        seg.bwd_args.emplace(arg, m);
    }
    return seg;
}

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
    std::vector<Segment> segs;
    for (const SegmentShape &s : plan_segments(c)) {
        const memory *below = segs.empty() ? nullptr
                                           : &segs.back().fwd_args.at(DNNL_ARG_DST_LAYER);
        segs.push_back(make_segment(eng, strm, ci, s, below));
    }
    // Stacking in backward: the upper segment's diff_src_layer is the lower
    // segment's diff_dst_layer.
    for (size_t i = 1; i < segs.size(); ++i)
        segs[i - 1].bwd_args[DNNL_ARG_DIFF_DST_LAYER]
                = segs[i].bwd_args.at(DNNL_ARG_DIFF_SRC_LAYER);

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

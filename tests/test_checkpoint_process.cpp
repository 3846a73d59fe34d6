// SPDX-License-Identifier: Apache-2.0
// What lives here: checkpoint tests across processes: a saver killed with SIGKILL mid-save, a save that
// hits RLIMIT_FSIZE, a reader racing a writer, a file read by /usr/bin/python3 + h5py, and exact resume
// (train N steps == train k, save, load in a fresh process, train N - k).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "io/checkpoint.h"
#include "test_checkpoint_helpers.h"
#include "unroll.h"

using namespace unroll;
using namespace unroll::testing;

namespace {

// A checkpoint whose every value equals `version` (so "intact" is checkable), ~numel floats large.
Checkpoint versioned(int64_t version, int64_t numel) {
  Checkpoint c;
  c.model_config = {{"kind", "versioned"}};
  c.params.emplace_back("big/a", Tensor::full({numel / 2}, DType::f32, static_cast<double>(version)));
  c.params.emplace_back("big/b", Tensor::full({numel / 2 / 64, 64}, DType::f32, static_cast<double>(version)));
  c.progress.step = version;
  return c;
}

// True when the file loads and every value equals the recorded step.
void check_intact(const std::string& path, int64_t min_version) {
  const Checkpoint c = load_checkpoint(path);
  CHECK(c.progress.step >= min_version);
  REQUIRE(c.params.size() == 2);
  for (const auto& [name, t] : c.params) {
    CAPTURE(name);
    const float* p = t.data<float>();
    bool all = true;
    for (int64_t i = 0; i < t.numel(); ++i) all = all && p[i] == static_cast<float>(c.progress.step);
    CHECK(all);
  }
}

bool file_exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

int wait_exit_code(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("checkpoint process: a saver killed with SIGKILL mid-save leaves the previous checkpoint intact") {
  ScratchDir dir;
  const std::string path = dir.file("killed.h5");
  constexpr int64_t kNumel = 2 << 20;  // 8 MB of float32 per save
  save_checkpoint(path, versioned(0, kNumel));
  int64_t last_seen = 0;
  int killed_mid_save = 0;
  Rng rng(42);
  for (int round = 0; round < 6; ++round) {
    CAPTURE(round);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (int64_t v = last_seen + 1;; ++v) {
        try {
          save_checkpoint(path, versioned(v, kNumel));
        } catch (...) {
          ::_exit(3);
        }
      }
    }
    // Wait until the child is inside a save (its temporary file exists), then kill it at a random point.
    const std::string tmp = path + ".tmp-" + std::to_string(child);
    for (int i = 0; i < 200000 && !file_exists(tmp); ++i) ::usleep(50);
    ::usleep(static_cast<useconds_t>(rng.below(20000)));
    ::kill(child, SIGKILL);
    CHECK(wait_exit_code(child) == 128 + SIGKILL);
    if (file_exists(tmp)) ++killed_mid_save;
    check_intact(path, last_seen);
    last_seen = load_checkpoint(path).progress.step;
  }
  CHECK(killed_mid_save >= 1);  // at least one kill landed while a temporary file was being written
  // The next save removes the dead savers' temporary files.
  save_checkpoint(path, versioned(last_seen + 1, 1024));
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) CHECK(e.path().filename() == "killed.h5");
}

TEST_CASE("checkpoint process: a save that hits RLIMIT_FSIZE fails clearly and leaves the previous file intact") {
  ScratchDir dir;
  const std::string path = dir.file("limited.h5");
  save_checkpoint(path, versioned(1, 4096));
  const auto before = read_bytes(path);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1 << 20, 1 << 20};  // 1 MB
    ::setrlimit(RLIMIT_FSIZE, &limit);
    int code = 3;
    std::string message = "no exception";
    try {
      save_checkpoint(path, versioned(2, 4 << 20));  // 16 MB
    } catch (const IoError& e) {
      code = 0;
      message = e.what();
    } catch (const std::exception& e) {
      code = 4;
      message = e.what();
    }
    (void)!::write(fds[1], message.data(), message.size());
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) message.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  CAPTURE(message);
  CHECK(wait_exit_code(child) == 0);
  CHECK(message.rfind(fmt::format("checkpoint '{}': saving failed, the previous checkpoint is untouched: writing '{}.tmp-{}' failed: ",
                                  path, path, child), 0) == 0);
  CHECK(message.find("File too large") != std::string::npos);
  CHECK(message.find("(hint: is the disk full or a file size limit set? is the folder writable?)") != std::string::npos);
  CHECK(read_bytes(path) == before);
  check_intact(path, 1);
  CHECK_FALSE(file_exists(path + ".tmp-" + std::to_string(child)));
}

TEST_CASE("checkpoint process: a reader racing a writer never sees a half-written file") {
  ScratchDir dir;
  const std::string path = dir.file("raced.h5");
  save_checkpoint(path, versioned(0, 1 << 18));
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int code = 0;
    try {
      for (int v = 1; v <= 60; ++v) save_checkpoint(path, versioned(v, 1 << 18), SaveOptions{.keep_last = 1});
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int loads = 0;
  int64_t last = 0, distinct = 0;
  int status = 0;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    check_intact(path, last);  // any error (truncated, corrupted, missing) fails here
    const int64_t v = load_checkpoint(path).progress.step;
    distinct += v != last;
    last = v;
    ++loads;
  }
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(loads > 0);
  MESSAGE("reader: " << loads << " loads, " << distinct << " distinct versions seen");
  check_intact(path, 60);
}

TEST_CASE("checkpoint process: h5py reads names, shapes and values of a saved file") {
  ScratchDir dir;
  TinyNet net(3, 2, 2, DType::f32, 9);
  Checkpoint c = full_checkpoint(net, 4);
  c.params.emplace_back("head/w", Tensor::from_values({0.25, -1.5, 3.0, 1e-30, -0.0, 7.0}, {2, 3}, DType::f64));
  const std::string path = dir.file("for_h5py.h5");
  save_checkpoint(path, c);

  auto spec = [](const Tensor& t) {
    return nlohmann::json{{"dtype", dtype_name(t.dtype())},
                          {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())},
                          {"values", t.to_vector()}};
  };
  nlohmann::json want;
  for (const auto& [name, t] : c.params) {
    want["params"][name] = spec(t);
    want["order"].push_back(name);
  }
  want["config"] = c.model_config;
  want["optimizer"] = {{"kind", "adam"}, {"step", 17}};
  for (const auto& [param, slots] : c.optimizer.slots)
    for (const auto& [slot, t] : slots) want["optimizer"]["slots"][param][slot] = spec(t);
  want["rng"] = c.rng;
  want["trainer"] = {{"epoch", 3}, {"step", 17}, {"data_cursor", 40}, {"shuffle_seed", 0xfeedfacecafebeefULL}};
  const std::string expect_path = dir.file("expect.json");
  std::ofstream(expect_path) << want.dump();
  const std::string cmd = fmt::format("/usr/bin/python3 {}/tools/read_checkpoint_check.py '{}' '{}'", UNROLL_SOURCE_DIR,
                                      path, expect_path);
  CHECK(std::system(cmd.c_str()) == 0);

  // The checker can fail: one wrong value.
  want["params"]["l1/w_hh"]["values"][3] = 99.0;
  std::ofstream(expect_path) << want.dump();
  CHECK(std::system((cmd + " >/dev/null").c_str()) != 0);

  // A string stored variable-length (h5py's default) is refused even with valid checksums: HDF5 1.10's
  // variable-length reader is not safe on crafted files (docs/checkpoint-format.md).
  const std::string vlen = dir.file("vlen.h5");
  const std::string script = fmt::format(
      "import shutil, sys, h5py; sys.path.insert(0, '{0}/tools'); import unroll_checkpoint as u\n"
      "shutil.copy('{1}', '{2}')\n"
      "with h5py.File('{2}', 'r+') as f:\n"
      "    del f['extra']; f.create_dataset('extra', data='null', dtype=h5py.string_dtype('utf-8'))\n"
      "    c = u.payload_checksum(u.payload_items(f)).encode()\n"
      "    f.attrs.create('checksum', c, dtype='S%d' % (len(c) + 1))\n"
      "u.stamp_header('{2}')\n",
      UNROLL_SOURCE_DIR, path, vlen);
  std::ofstream(dir.file("vlen.py")) << script;
  REQUIRE(std::system(fmt::format("/usr/bin/python3 '{}'", dir.file("vlen.py")).c_str()) == 0);
  CHECK_THROWS_WITH_AS(load_checkpoint(vlen),
                       fmt::format("hdf5 '{}': /extra is a variable-length string; unroll reads fixed-length strings "
                                   "only (hint: write strings with h5py.string_dtype('utf-8', length=n), see "
                                   "docs/checkpoint-format.md)", vlen).c_str(),
                       IoError);
}

// ---- exact resume ----
namespace {

// One deterministic training step of a tiny model with Adam written out here (train/ has the real
// optimizers): data drawn from `rng`, so the RNG state is part of what must be restored.
struct TinyTrainer {
  TinyNet net{3, 2, 1, DType::f32, 123};
  Rng rng{7};
  int64_t step = 0;
  std::map<std::string, std::map<std::string, Tensor>> slots;

  void train_step() {
    Tape tape;
    Tensor x = Tensor::empty({4, 3}, DType::f32);
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, rng.uniform(-1, 1));
    Var h = tanh(linear(tape.constant(x), tape.param(*net.find_parameter("l0/w_ih")),
                        tape.param(*net.find_parameter("l0/b_ih"))));  // [4, 8]
    Var y = sum(square(h)) + sum(square(tape.param(*net.find_parameter("l0/w_hh")))) +
            sum(tape.param(*net.find_parameter("scale")));
    net.zero_grad();
    backward(y);
    ++step;
    for (auto& [path, p] : net.named_parameters()) {
      Tensor& m = slots[path]["m"];
      Tensor& v = slots[path]["v"];
      if (!m.defined()) m = Tensor::zeros(p->value.shape(), DType::f32), v = Tensor::zeros(p->value.shape(), DType::f32);
      float* w = p->value.data<float>();
      const float* g = p->grad.data<float>();
      float *mp = m.data<float>(), *vp = v.data<float>();
      for (int64_t i = 0; i < p->value.numel(); ++i) {
        mp[i] = 0.9f * mp[i] + 0.1f * g[i];
        vp[i] = 0.999f * vp[i] + 0.001f * g[i] * g[i];
        const float mh = mp[i] / (1.0f - std::pow(0.9f, static_cast<float>(step)));
        const float vh = vp[i] / (1.0f - std::pow(0.999f, static_cast<float>(step)));
        w[i] -= 0.01f * mh / (std::sqrt(vh) + 1e-8f);
      }
    }
  }
  Checkpoint checkpoint() {
    Checkpoint c = module_checkpoint(net, TinyNet::config(3, 2, 1));
    c.has_optimizer = true;
    c.optimizer.kind = "adam";
    c.optimizer.hyper = {{"lr", 0.01}};
    c.optimizer.step = step;
    c.optimizer.slots = slots;
    c.has_rng = true;
    c.rng = rng.state();
    c.progress.step = step;
    return c;
  }
  void restore(const Checkpoint& c) {
    const auto config = TinyNet::config(3, 2, 1);
    load_parameters(net, c, &config);
    step = c.optimizer.step;
    slots = c.optimizer.slots;
    rng.set_state(c.rng);
  }
};

}  // namespace

TEST_CASE("checkpoint process: resume is exact: N steps == k steps, save, load in a fresh process, N - k steps") {
  constexpr int kN = 12, kK = 5;
  ScratchDir dir;
  TinyTrainer straight;
  for (int i = 0; i < kN; ++i) straight.train_step();

  TinyTrainer first;
  for (int i = 0; i < kK; ++i) first.train_step();
  save_checkpoint(dir.file("resume.h5"), first.checkpoint());

  // A fresh process: a child that never saw `first`, builds its own (differently initialised) trainer.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int code = 0;
    try {
      TinyTrainer resumed;
      resumed.rng.reseed(999);
      resumed.restore(load_checkpoint(dir.file("resume.h5")));
      for (int i = kK; i < kN; ++i) resumed.train_step();
      save_checkpoint(dir.file("final.h5"), resumed.checkpoint());
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  REQUIRE(wait_exit_code(child) == 0);
  const Checkpoint resumed = load_checkpoint(dir.file("final.h5"));
  const Checkpoint expected = straight.checkpoint();
  REQUIRE(resumed.params.size() == expected.params.size());
  for (size_t i = 0; i < expected.params.size(); ++i) {
    CAPTURE(expected.params[i].first);
    CHECK(resumed.params[i].second.bit_equal(expected.params[i].second));
  }
  CHECK(resumed.rng == expected.rng);
  CHECK(resumed.optimizer.step == kN);
}

// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of the sandboxed checkpoint load (Note [Sandboxed load] in io/sandbox.cpp): a
// valid file loads the same bits with and without the sandbox; a child that crashes, spins, hangs or
// runs out of memory (forced through LoadOptions::test_hooks, which no file can set) becomes one IoError
// line "...; refused" and this process carries on; the child's validation errors come back with their
// type and message; a file replaced after the check never reaches HDF5 here; and a real file crafted to
// crash HDF5 1.10.8 (tests/fixtures/crash_hdf5_*.h5) is refused although it kills an unsandboxed reader.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "io/checkpoint.h"
#include "test_checkpoint_helpers.h"

using namespace unroll;
using namespace unroll::testing;
namespace cd = unroll::checkpoint_detail;

#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif
#ifndef TEST_UNDER_ASAN
#define TEST_UNDER_ASAN 0
#endif

namespace {

void check_same_checkpoint(const Checkpoint& a, const Checkpoint& b) {
  REQUIRE(a.params.size() == b.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    CAPTURE(a.params[i].first);
    CHECK(a.params[i].first == b.params[i].first);
    CHECK(a.params[i].second.bit_equal(b.params[i].second));
  }
  CHECK(a.model_config == b.model_config);
  CHECK(a.has_optimizer == b.has_optimizer);
  CHECK(a.optimizer.hyper == b.optimizer.hyper);
  CHECK(a.optimizer.step == b.optimizer.step);
  REQUIRE(a.optimizer.slots.size() == b.optimizer.slots.size());
  for (const auto& [param, slots] : a.optimizer.slots)
    for (const auto& [slot, t] : slots) CHECK(b.optimizer.slots.at(param).at(slot).bit_equal(t));
  CHECK(a.rng == b.rng);
  CHECK(a.progress.step == b.progress.step);
  CHECK(a.progress.history == b.progress.history);
  CHECK(a.scaler == b.scaler);
  CHECK(a.extra == b.extra);
}

std::string load_error(const std::string& path, const LoadOptions& options) {
  try {
    load_checkpoint(path, options);
  } catch (const IoError& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("checkpoint sandbox: a valid file loads the same bits with and without the sandbox") {
  ScratchDir dir;
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    TinyNet net(3, 2, 2, dtype, 7);
    const Checkpoint saved = full_checkpoint(net, 11);
    const std::string path = dir.file("state.h5");
    save_checkpoint(path, saved);
    const Checkpoint sandboxed = load_checkpoint(path);
    const Checkpoint direct = load_checkpoint(path, LoadOptions{.sandbox = false});
    check_same_checkpoint(sandboxed, direct);
    CHECK(sandboxed.created == direct.created);
    CHECK(sandboxed.source == direct.source);
    check_same_checkpoint(saved, sandboxed);
  }
}

TEST_CASE("checkpoint sandbox: a reader that crashes, spins, hangs or runs out of memory is refused with one line") {
  ScratchDir dir;
  TinyNet net(3, 2, 1, DType::f32, 1);
  const std::string path = dir.file("ok.h5");
  save_module(path, net, TinyNet::config(3, 2, 1));
  const std::string hint = "(hint: the file passes its CRC, so it was made this way: it was crafted or written by a "
                           "broken tool; nothing was loaded)";

  cd::LoadTestHooks hooks;
  LoadOptions options;
  options.test_hooks = &hooks;

  hooks.child_fault = sandbox::TestFault::segfault;
  CHECK(load_error(path, options) == fmt::format("checkpoint '{}': the file crashed the HDF5 reader (signal {}, SIGSEGV) "
                                                 "in the sandboxed check; refused {}", path, SIGSEGV, hint));

  hooks.child_fault = sandbox::TestFault::spin;
  options.sandbox_cpu_seconds = 1;
  CHECK(load_error(path, options) == fmt::format("checkpoint '{}': reading the file used more than 1 s of CPU time in "
                                                 "the sandboxed check; refused {}", path, hint));

  hooks.child_fault = sandbox::TestFault::sleep;  // no CPU used: only the parent's wait can end it
  options.sandbox_wall_seconds = 1;
  CHECK(load_error(path, options) == fmt::format("checkpoint '{}': the HDF5 reader did not finish within 1 s in the "
                                                 "sandboxed check (it hung); refused {}", path, hint));

  if (!TEST_UNDER_ASAN) {  // AddressSanitizer builds run without the memory limit (Note [Sandboxed load])
    hooks.child_fault = sandbox::TestFault::allocate;
    options.sandbox_memory_bytes = size_t{64} << 20;
    CHECK(load_error(path, options) == fmt::format("checkpoint '{}': reading the file needed more than 64 MB of memory "
                                                   "in the sandboxed check; refused {}", path, hint));
  }

  // This process is unharmed and the same file loads.
  options = LoadOptions{};
  TinyNet fresh(3, 2, 1, DType::f32, 2);
  load_parameters(fresh, load_checkpoint(path, options));
  for (auto& [p, param] : net.named_parameters()) CHECK(fresh.find_parameter(p)->value.bit_equal(param->value));
}

TEST_CASE("checkpoint sandbox: the child's validation errors come back with their type and message") {
  ScratchDir dir;
  TinyNet net(3, 2, 1, DType::f32, 1);
  auto items = cd::to_items(module_checkpoint(net, TinyNet::config(3, 2, 1)));
  items.push_back(h5::Item::of_string("/notes", "", "hello"));
  const std::string path = dir.file("notes.h5");
  cd::save_items(path, items);
  const std::string want = fmt::format("checkpoint '{}': unexpected dataset /notes (hint: written by a different tool "
                                       "or a newer unroll?)", path);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), want.c_str(), IoError);
  CHECK_THROWS_WITH_AS(load_checkpoint(path, LoadOptions{.sandbox = false}), want.c_str(), IoError);
}

TEST_CASE("checkpoint sandbox: a file replaced or rewritten after the check never reaches HDF5 in this process") {
  ScratchDir dir;
  TinyNet first(3, 2, 1, DType::f32, 1), second(3, 2, 1, DType::f32, 2);
  const std::string path = dir.file("model.h5"), other = dir.file("other.h5");
  save_module(path, first, TinyNet::config(3, 2, 1));
  const Checkpoint want = load_checkpoint(path, LoadOptions{.sandbox = false});
  const std::vector<unsigned char> original = read_bytes(path);

  cd::LoadTestHooks hooks;
  LoadOptions options;
  options.test_hooks = &hooks;
  SUBCASE("renamed over") {
    hooks.after_child_accepted = [&] {
      save_module(other, second, TinyNet::config(3, 2, 1));
      std::filesystem::rename(other, path);
    };
  }
  SUBCASE("rewritten in place with bytes that are not a checkpoint") {
    hooks.after_child_accepted = [&] { write_bytes(path, std::vector<unsigned char>(4096, 0xAB)); };
  }
  const Checkpoint got = load_checkpoint(path, options);
  check_same_checkpoint(want, got);
  CHECK(read_bytes(path) != original);  // the file on disk really changed before this process parsed
}

TEST_CASE("checkpoint sandbox: files crafted to crash HDF5 1.10.8 are refused, and do crash an unsandboxed reader") {
  // Each is a valid checkpoint written by tools/unroll_checkpoint.py with one HDF5 byte changed and the
  // header re-stamped (tests/fixtures/README.md): HDF5 1.10.8 dies in H5F__accum_read (a wild memcpy) and
  // in H5MM_xfree (a free of a bad pointer).
  for (const char* name : {"crash_hdf5_accum_read.h5", "crash_hdf5_xfree.h5"}) {
    CAPTURE(name);
    const std::string path = std::string(UNROLL_SOURCE_DIR) + "/tests/fixtures/" + name;
    const std::string message = load_error(path, {});
    CHECK(message.rfind(fmt::format("checkpoint '{}': ", path), 0) == 0);
    CHECK(message.find("; refused (hint: the file passes its CRC") != std::string::npos);
    if (!TEST_UNDER_ASAN) {  // there the sanitizer reports and exits instead of the signal
      CHECK(message.find("the file crashed the HDF5 reader (signal") != std::string::npos);
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        std::freopen("/dev/null", "w", stderr);
        try {
          load_checkpoint(path, LoadOptions{.sandbox = false});
        } catch (...) {
        }
        ::_exit(0);
      }
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      CHECK(WIFSIGNALED(status));
    }
  }
}

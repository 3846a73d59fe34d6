// SPDX-License-Identifier: Apache-2.0
// What lives here: the sandboxed checkpoint loader fuzz target. Unlike fuzz_checkpoint (whose mutations
// almost all stop at the whole-file CRC), every input gets a freshly stamped unroll header
// (checkpoint_detail::restamp_header), so the mutated HDF5 bytes reach HDF5 1.10.8's parser, which does
// crash on some of them. That parse runs first in the sandboxed child (Note [Sandboxed load] in
// io/sandbox.cpp): a crash, a hang or a runaway allocation there must come back as an IoError ("...;
// refused"), and a file the child accepts is parsed again here, under the sanitizers. Anything but
// unroll::Error (another exception, a crash of this process, a sanitizer report, a leak, a hang) is a bug.
// HDF5 itself is not instrumented; coverage comes from unroll's own reader code. Seeds: seed_checkpoint.cpp.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace {
std::string scratch_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/unroll-fuzz-sandboxed-" + std::to_string(::getpid()) + ".h5";
}
}  // namespace

// Before fuzzing: a valid checkpoint must load through the sandbox in this build (with its sanitizers);
// otherwise every input would be refused for the wrong reason and the run would prove nothing.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string path = scratch_path();
  unroll::Checkpoint c;
  c.model_config = {{"kind", "self-check"}};
  c.params.emplace_back("w", unroll::Tensor::zeros({2, 3}, unroll::DType::f32));
  try {
    unroll::save_checkpoint(path, c);
    const unroll::Checkpoint loaded = unroll::load_checkpoint(path);
    if (loaded.params.size() != 1) throw unroll::Error("the self-check checkpoint lost its parameter");
  } catch (const unroll::Error& e) {
    std::fprintf(stderr, "fuzz_checkpoint_sandboxed: a valid checkpoint does not load: %s\n", e.what());
    std::abort();
  }
  std::remove(path.c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scratch_path();
  if (size < unroll::checkpoint_detail::kHeaderBytes) return 0;
  std::vector<unsigned char> bytes(data, data + size);
  unroll::checkpoint_detail::restamp_header(bytes);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  // Limits well inside run.sh's -timeout=10: a child that spins or hangs is refused, not a fuzzer timeout.
  unroll::LoadOptions options;
  options.sandbox_cpu_seconds = 2;
  options.sandbox_wall_seconds = 5;
  try {
    unroll::Checkpoint c = unroll::load_checkpoint(path, options);
    (void)c;
  } catch (const unroll::Error&) {
    // expected for bad input, including "the file crashed the HDF5 reader ...; refused"
  }
  std::remove(path.c_str());
  return 0;
}

// SPDX-License-Identifier: Apache-2.0
// What lives here: the checkpoint loader fuzz target. Bytes become a file that load_checkpoint reads;
// any unroll::Error is a correct answer, anything else (another exception, a crash, a sanitizer report,
// a leak, a hang) is a bug. Seeds: seed_checkpoint.cpp (valid checkpoints).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "io/checkpoint.h"

namespace {
std::string scratch_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/unroll-fuzz-checkpoint-" + std::to_string(::getpid()) + ".h5";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scratch_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    unroll::Checkpoint c = unroll::load_checkpoint(path);
    (void)c;
  } catch (const unroll::Error&) {
    // expected for bad input
  }
  std::remove(path.c_str());
  return 0;
}

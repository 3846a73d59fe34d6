// SPDX-License-Identifier: Apache-2.0
// What lives here: the checkpoint API. One HDF5 file holds a model's parameters (by module path), its
// config, the optimizer state (keyed by parameter path), the RNG state, trainer progress and the data
// scaler; saves are atomic (temp file + fsync + rename) and loads verify format, version and checksum.
// The on-disk layout is documented in docs/checkpoint-format.md.
//
// Note [Checkpoints never lie]: every mismatch (missing/unexpected/mis-shaped/wrong-dtype parameter,
// config disagreement, NaN/Inf, checksum mismatch, unknown format or newer version) raises IoError
// naming the file and the path inside it ("/params/l0/w_ih") with both the expected and found values.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "graph/rng.h"
#include "graph/tensor.h"
#include "graph/version.h"
#include "io/hdf5.h"
#include "io/sandbox.h"

namespace unroll {

class Module;  // models/module.h

inline constexpr const char* kCheckpointFormat = "unroll-checkpoint";
inline constexpr int64_t kCheckpointFormatVersion = 1;

/// An optimizer's state as a checkpoint keeps it.
struct OptimizerState {
  std::string kind;     ///< "sgd", "adam", ...
  nlohmann::json hyper;  ///< learning rate, betas, eps, weight decay, ...
  int64_t step = 0;
  /// param path -> slot name ("m", "v", "momentum") -> tensor (same shape as the parameter, usually)
  std::map<std::string, std::map<std::string, Tensor>> slots;
};

/// Where training stood when the checkpoint was saved.
struct TrainerProgress {
  int64_t epoch = 0, step = 0, data_cursor = 0;
  uint64_t shuffle_seed = 0;
  nlohmann::json schedule;  ///< learning-rate schedule state
  nlohmann::json history;   ///< per-epoch metrics
};

/// Everything one checkpoint file holds. save_checkpoint() writes it atomically, load_checkpoint() reads and
/// validates it (Note [Checkpoints never lie]); module_checkpoint() and load_parameters() move parameters
/// between it and a Module.
struct Checkpoint {
  nlohmann::json model_config;                        ///< enough to rebuild a built-in model
  std::vector<std::pair<std::string, Tensor>> params;  ///< module path -> value, in module order
  OptimizerState optimizer;
  bool has_optimizer = false;
  Rng::State rng{};
  bool has_rng = false;
  TrainerProgress progress;
  nlohmann::json scaler;  ///< data scaler parameters (null when none)
  nlohmann::json extra;   ///< anything else the caller wants to keep (null when none)

  /// Informational, filled by load_checkpoint (ignored by save_checkpoint).
  std::string library_version;  ///< UNROLL_VERSION of the writer
  std::string created;          ///< ISO-8601 UTC time of the save
  std::string source;           ///< the file it was loaded from (for messages); "" when built in memory

  const Tensor* find_param(const std::string& path) const;  ///< nullptr when absent
};

struct SaveOptions {
  int keep_last = 0;  ///< > 0: before replacing `path`, rotate path -> path.1 -> ... -> path.N (oldest dropped)
};

namespace checkpoint_detail {
struct LoadTestHooks;  ///< tests only (below)
}

struct LoadOptions {
  bool allow_nonfinite = false;  ///< false: NaN/Inf in a parameter or optimizer slot is an IoError
  /// true: the file is parsed and validated first in a child process under limits (Note [Sandboxed load]
  /// in io/sandbox.cpp), so a file that crashes or hangs HDF5 becomes an IoError "...; refused" instead of
  /// killing this process. false is only for files this process has just written itself.
  bool sandbox = true;
  /// The child's limits; 0 = the default: 10 s + 1 s per 50 MB of CPU time, 60 s + 1 s per 10 MB of wall
  /// time, 1 GiB + 8 x the file size of address space (not applied under AddressSanitizer).
  double sandbox_cpu_seconds = 0;
  double sandbox_wall_seconds = 0;
  size_t sandbox_memory_bytes = 0;
  const checkpoint_detail::LoadTestHooks* test_hooks = nullptr;  ///< tests only: nullptr
};

/// Writes atomically: "<path>.tmp-<pid>" in the same folder, flush, fsync, rename, fsync the folder.
/// On any failure the previous file at `path` is untouched and IoError names the file and the step.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt, const SaveOptions& options = {});

/// Reads and validates (format name, version, checksum, dtypes, shapes, finiteness), by default first in a
/// sandboxed child process (LoadOptions::sandbox). Throws IoError.
Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options = {});

/// A checkpoint holding copies of the module's parameters (by path) and the given config; the caller may
/// fill the optimizer, rng, progress and scaler before saving.
Checkpoint module_checkpoint(Module& module, nlohmann::json model_config);

/// Copies the checkpoint's parameters into the module. Every module parameter must be present with the
/// same shape and dtype, and the checkpoint may hold no others; when expected_config is given it must
/// equal the checkpoint's model config. Any mismatch -> IoError naming "/params/<path>" (or "/model/config")
/// and both values; the module is left unchanged on error.
void load_parameters(Module& module, const Checkpoint& ckpt, const nlohmann::json* expected_config = nullptr);

/// Convenience: save_checkpoint(path, module_checkpoint(module, config)) and load_checkpoint + load_parameters.
void save_module(const std::string& path, Module& module, const nlohmann::json& model_config,
                 const SaveOptions& options = {});
Checkpoint load_module(const std::string& path, Module& module, const nlohmann::json* expected_config = nullptr,
                       const LoadOptions& options = {});

// ---- lower level: for tools and tests that craft files (docs/checkpoint-format.md) ----
namespace checkpoint_detail {
inline constexpr size_t kHeaderBytes = 512;  ///< the HDF5 user block holding the unroll file header
/// The payload items save_checkpoint writes for `ckpt`, in write order (no root attributes).
std::vector<h5::Item> to_items(const Checkpoint& ckpt);
/// "crc32:xxxxxxxx" over every item except root attributes, sorted by (path, attr).
std::string payload_checksum(const std::vector<h5::Item>& items);
/// Rewrites the 512-byte unroll header of a whole file image (magic, layout, size, CRC-32 of the HDF5 part,
/// header CRC) so the image passes the loader's byte checks: for tests and fuzzers that edit HDF5 bytes.
/// The image must be at least kHeaderBytes long.
void restamp_header(std::vector<unsigned char>& file);
/// Test-only hooks of load_checkpoint (LoadOptions::test_hooks); never set from a file or the environment.
struct LoadTestHooks {
  sandbox::TestFault child_fault = sandbox::TestFault::none;  ///< what the sandboxed child does instead of parsing
  std::function<void()> after_child_accepted;  ///< runs in the caller between the child's OK and its own parse
};
/// Adds the root attributes that `items` does not already set (format, format_version, library_version,
/// created, checksum), then saves atomically exactly like save_checkpoint.
void save_items(const std::string& path, std::vector<h5::Item> items, const SaveOptions& options = {});
}  // namespace checkpoint_detail

}  // namespace unroll

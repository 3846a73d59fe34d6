// SPDX-License-Identifier: Apache-2.0
// What lives here: the checkpoint load path of io/checkpoint.h: the 512-byte unroll header in the HDF5
// user block checked (whole-file CRC-32) before HDF5 parses a byte, HDF5 items -> Checkpoint with every
// validation of Note [Checkpoints never lie] (first in a sandboxed child: Note [Sandboxed load] in
// io/sandbox.cpp), and copying parameters into a Module by path. Saving: io/checkpoint_save.cpp.
#include "io/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <set>

#include "graph/check.h"
#include "graph/json_bounds.h"
#include "io/checkpoint_file.h"
#include "models/module.h"

namespace unroll {

using nlohmann::json;
using h5::Item;
using h5::ItemType;
using namespace checkpoint_file;

const Tensor* Checkpoint::find_param(const std::string& path) const {
  for (const auto& [p, t] : params)
    if (p == path) return &t;
  return nullptr;
}

namespace {

std::vector<unsigned char> read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused as not a regular file.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  UNROLL_CHECK(fd.get() >= 0, IoError, "{}: cannot open for reading: {} (hint: check the path and the working "
               "directory)", ctx(path), std::strerror(errno));
  struct stat st;
  UNROLL_CHECK(::fstat(fd.get(), &st) == 0, IoError, "{}: cannot stat: {}", ctx(path), std::strerror(errno));
  UNROLL_CHECK(S_ISREG(st.st_mode), IoError, "{}: not a regular file (a folder, FIFO or device) (hint: pass the checkpoint file)",
               ctx(path));
  // Read into a buffer sized by fstat, growing if the file grew meanwhile (it is then read to its end).
  std::vector<unsigned char> bytes(static_cast<size_t>(st.st_size) + 1);
  size_t have = 0;
  for (;;) {
    if (have == bytes.size()) bytes.resize(bytes.size() * 2);
    const ssize_t n = ::read(fd.get(), bytes.data() + have, bytes.size() - have);
    if (n < 0 && errno == EINTR) continue;
    UNROLL_CHECK(n >= 0, IoError, "{}: read failed: {}", ctx(path), std::strerror(errno));
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  bytes.resize(have);
  return bytes;
}

// Everything about the bytes is checked here, before HDF5 parses anything.
void verify_header(const std::string& path, const std::vector<unsigned char>& bytes) {
  const bool magic = bytes.size() >= 8 && std::memcmp(bytes.data(), kMagic, 8) == 0;
  if (!magic) {
    UNROLL_CHECK(!h5::has_hdf5_signature(bytes.data(), bytes.size()), IoError,
                 "{}: an HDF5 file but not an unroll checkpoint (no unroll header block) (hint: write it with "
                 "save_checkpoint or tools/torch_to_unroll.py)", ctx(path));
    UNROLL_CHECK(!bytes.empty(), IoError, "{}: the file is empty (hint: the save was interrupted; a previous "
                 "checkpoint may exist as '{}.1')", ctx(path), path);
    std::string first;
    for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i)
      first += std::isprint(bytes[i]) ? std::string(1, static_cast<char>(bytes[i])) : fmt::format("\\x{:02x}", bytes[i]);
    throw IoError(fmt::format("{}: not an unroll checkpoint and not an HDF5 file (it starts with \"{}\") (hint: pass a "
                              "file written by save_checkpoint)", ctx(path), first));
  }
  UNROLL_CHECK(bytes.size() >= kHeaderBytes, IoError, "{}: the file is truncated: {} bytes is shorter than the {}-byte "
               "header (hint: a previous checkpoint may exist as '{}.1')", ctx(path), bytes.size(), kHeaderBytes, path);
  const unsigned char* h = bytes.data();
  UNROLL_CHECK(get_u32(h + 24) == h5::crc32(h, 24), IoError, "{}: the header block is corrupted (its CRC-32 does not "
               "match) (hint: the file was damaged after saving)", ctx(path));
  const uint32_t layout = get_u32(h + 8);
  UNROLL_CHECK(layout == kHeaderLayout, IoError, "{}: header layout {} is newer than this unroll ({}) reads ({}) "
               "(hint: upgrade unroll to read it)", ctx(path), layout, UNROLL_VERSION, kHeaderLayout);
  const uint64_t size = get_u64(h + 16);
  UNROLL_CHECK(size == bytes.size(), IoError, "{}: the file is {}: the header records {} bytes but the file has {} "
               "(hint: the copy or save was interrupted; a previous checkpoint may exist as '{}.1')", ctx(path),
               bytes.size() < size ? "truncated" : "longer than written", size, bytes.size(), path);
  const uint32_t want = get_u32(h + 12);
  const uint32_t got = h5::crc32(bytes.data() + kHeaderBytes, bytes.size() - kHeaderBytes);
  UNROLL_CHECK(got == want, IoError, "{}: the file is corrupted: CRC-32 of bytes {}..{} is {:08x} but the header "
               "records {:08x} (hint: the file was modified or damaged after saving)", ctx(path), kHeaderBytes,
               bytes.size(), got, want);
}

std::string non_finite_message(const std::string& path, const std::string& key, const Tensor& t) {
  const int64_t n = t.numel();
  int64_t i = 0;
  dispatch_dtype(t.dtype(), [&]<class T>() {
    const T* p = static_cast<const T*>(t.raw());
    while (i < n && std::isfinite(p[i])) ++i;
  });
  if (i < n) {
    const double v = t.at(i);
    return fmt::format("{}: {} holds a non-finite value ({}) at flat index {} (hint: the saved model had diverged; "
                         "pass LoadOptions{{.allow_nonfinite = true}} to load it anyway)", ctx(path), key, v, i);
  }
  return "";
}

std::string shape_text(const std::vector<int64_t>& dims) {
  Item it;
  it.dims = dims;
  return it.shape_str();
}

const Item& expect(const std::string& path, const Item& it, ItemType type, const std::vector<int64_t>& dims) {
  UNROLL_CHECK(it.type == type && it.dims == dims, IoError, "{}: {} is {} {} but expected {} {}", ctx(path), it.key(),
               h5::item_type_name(it.type), it.shape_str(), h5::item_type_name(type), shape_text(dims));
  return it;
}

json parse_json(const std::string& path, const Item& it) {
  expect(path, it, ItemType::str, {});
  try {
    return parse_bounded_json(it.str, fmt::format("{}: {}", ctx(path), it.key()));
  } catch (const DataError& e) {
    throw IoError(e.what());
  }
}



// /trainer/history: per-epoch metrics, an array of objects (null when none). The keys Trainer writes and reads back are
// type-checked here ("epoch", "step": integers >= 0; "lr": a number; "train_loss", "val_loss": a number
// or null), so a crafted file fails naming the entry instead of a JSON type error in resume or inspect.
void check_history(const std::string& path, const json& history) {
  if (history.is_null()) return;  // a model-only checkpoint
  UNROLL_CHECK(history.is_array(), IoError, "{}: /trainer/history must be a JSON array or null, got {}", ctx(path),
               history.type_name());
  for (size_t i = 0; i < history.size(); ++i) {
    const json& h = history[i];
    UNROLL_CHECK(h.is_object(), IoError, "{}: /trainer/history[{}] must be a JSON object, got {}", ctx(path), i,
                 h.type_name());
    for (const char* key : {"epoch", "step", "lr", "train_loss", "val_loss"}) {
      const auto it = h.find(key);
      if (it == h.end()) continue;
      const bool whole = key[0] == 'e' || key[0] == 's';
      const bool fits = whole ? it->is_number_integer() && it->get<int64_t>() >= 0
                              : it->is_number() || (key[0] != 'l' && it->is_null());
      UNROLL_CHECK(fits, IoError, "{}: /trainer/history[{}].{} must be {}, got {}", ctx(path), i, key,
                   whole ? "an integer >= 0" : key[0] == 'l' ? "a number" : "a number or null", it->type_name());
    }
  }
}

}  // namespace

// ============================================================================================
// file -> items -> Checkpoint
// ============================================================================================

namespace {

// HDF5 parse of the checked bytes and every validation; `payload_checksum` receives the verified checksum.
Checkpoint checkpoint_from_image(const std::string& path, const std::vector<unsigned char>& bytes,
                                 const LoadOptions& options, std::string& payload_checksum) {
  const std::vector<Item> items = h5::read_items_from_image(path, bytes.data(), bytes.size());

  // Root attributes first: format, version, checksum.
  auto root = [&](const char* attr) -> const Item* {
    for (const Item& it : items)
      if (it.path == "/" && it.attr == attr) return &it;
    return nullptr;
  };
  const Item* format = root("format");
  UNROLL_CHECK(format, IoError, "{}: root attribute 'format' is missing (hint: not written by unroll)", ctx(path));
  UNROLL_CHECK(format->type == ItemType::str && format->str == kCheckpointFormat, IoError,
               "{}: root attribute 'format' is \"{}\" but expected \"{}\" (hint: not an unroll checkpoint)", ctx(path),
               format->type == ItemType::str ? format->str : h5::item_type_name(format->type), kCheckpointFormat);
  const Item* version = root("format_version");
  UNROLL_CHECK(version, IoError, "{}: root attribute 'format_version' is missing", ctx(path));
  const int64_t v = expect(path, *version, ItemType::i64, {}).i64[0];
  UNROLL_CHECK(v <= kCheckpointFormatVersion, IoError, "{}: format_version {} is newer than this unroll ({}) reads ({}) "
               "(hint: upgrade unroll to read it)", ctx(path), v, UNROLL_VERSION, kCheckpointFormatVersion);
  UNROLL_CHECK(v >= 1, IoError, "{}: format_version {} is invalid (versions start at 1)", ctx(path), v);
  const Item* checksum = root("checksum");
  UNROLL_CHECK(checksum, IoError, "{}: root attribute 'checksum' is missing", ctx(path));
  const std::string computed = checkpoint_detail::payload_checksum(items);
  UNROLL_CHECK(expect(path, *checksum, ItemType::str, {}).str == computed, IoError,
               "{}: payload checksum mismatch: the contents give {} but the file records {} (hint: the file was "
               "edited without updating its checksum)", ctx(path), computed, checksum->str);
  payload_checksum = computed;

  Checkpoint c;
  c.source = path;
  bool has_config = false;
  for (const Item& it : items) {
    const std::string& p = it.path;
    if (p == "/" && it.is_attribute()) {
      if (it.attr == "library_version") c.library_version = expect(path, it, ItemType::str, {}).str;
      else if (it.attr == "created") c.created = expect(path, it, ItemType::str, {}).str;
      else if (it.attr != "format" && it.attr != "format_version" && it.attr != "checksum")
        throw IoError(fmt::format("{}: unexpected root attribute '{}'", ctx(path), it.attr));
    } else if (p == "/model/config" && !it.is_attribute()) {
      c.model_config = parse_json(path, it);
      has_config = true;
    } else if (p.rfind("/params/", 0) == 0 && !it.is_attribute()) {
      UNROLL_CHECK(it.type == ItemType::f32 || it.type == ItemType::f64, IoError,
                   "{}: {} has dtype {}; parameters are float32 or float64", ctx(path), p, h5::item_type_name(it.type));
      if (!options.allow_nonfinite)
        if (auto msg = non_finite_message(path, p, it.tensor); !msg.empty()) throw IoError(msg);
      c.params.emplace_back(p.substr(8), it.tensor);
    } else if (p == "/optimizer" && it.is_attribute()) {
      c.has_optimizer = true;
      if (it.attr == "kind") c.optimizer.kind = expect(path, it, ItemType::str, {}).str;
      else if (it.attr == "hyper") c.optimizer.hyper = parse_json(path, it);
      else if (it.attr == "step") c.optimizer.step = expect(path, it, ItemType::i64, {}).i64[0];
      else throw IoError(fmt::format("{}: unexpected attribute {}", ctx(path), it.key()));
    } else if (p.rfind("/optimizer/slots/", 0) == 0 && !it.is_attribute()) {
      c.has_optimizer = true;
      const std::string rest = p.substr(17);
      const auto slash = rest.rfind('/');
      UNROLL_CHECK(slash != std::string::npos, IoError, "{}: {} is not /optimizer/slots/<parameter path>/<slot>",
                   ctx(path), p);
      UNROLL_CHECK(it.type == ItemType::f32 || it.type == ItemType::f64, IoError,
                   "{}: {} has dtype {}; optimizer slots are float32 or float64", ctx(path), p,
                   h5::item_type_name(it.type));
      if (!options.allow_nonfinite)
        if (auto msg = non_finite_message(path, p, it.tensor); !msg.empty()) throw IoError(msg);
      c.optimizer.slots[rest.substr(0, slash)][rest.substr(slash + 1)] = it.tensor;
    } else if (p == "/rng/state" && !it.is_attribute()) {
      const Item& s = expect(path, it, ItemType::u64, {4});
      std::copy(s.u64.begin(), s.u64.end(), c.rng.begin());
      c.has_rng = true;
    } else if (p == "/trainer" && it.is_attribute()) {
      TrainerProgress& t = c.progress;
      if (it.attr == "epoch") t.epoch = expect(path, it, ItemType::i64, {}).i64[0];
      else if (it.attr == "step") t.step = expect(path, it, ItemType::i64, {}).i64[0];
      else if (it.attr == "data_cursor") t.data_cursor = expect(path, it, ItemType::i64, {}).i64[0];
      else if (it.attr == "shuffle_seed") t.shuffle_seed = expect(path, it, ItemType::u64, {}).u64[0];
      else throw IoError(fmt::format("{}: unexpected attribute {}", ctx(path), it.key()));
    } else if (p == "/trainer/schedule" && !it.is_attribute()) {
      c.progress.schedule = parse_json(path, it);
    } else if (p == "/trainer/history" && !it.is_attribute()) {
      c.progress.history = parse_json(path, it);
      check_history(path, c.progress.history);
    } else if (p == "/data/scaler" && !it.is_attribute()) {
      c.scaler = parse_json(path, it);
    } else if (p == "/extra" && !it.is_attribute()) {
      c.extra = parse_json(path, it);
    } else {
      throw IoError(fmt::format("{}: unexpected {} {} (hint: written by a different tool or a newer unroll?)",
                                ctx(path), it.is_attribute() ? "attribute" : "dataset", it.key()));
    }
  }
  UNROLL_CHECK(has_config, IoError, "{}: /model/config is missing", ctx(path));
  return c;
}

sandbox::Limits sandbox_limits(const LoadOptions& options, size_t file_bytes) {
  const double mb = static_cast<double>(file_bytes) / 1e6;
  sandbox::Limits limits;
  limits.cpu_seconds = options.sandbox_cpu_seconds > 0 ? options.sandbox_cpu_seconds : 10 + mb / 50;
  limits.wall_seconds = options.sandbox_wall_seconds > 0 ? options.sandbox_wall_seconds : 60 + mb / 10;
  limits.memory_bytes = options.sandbox_memory_bytes > 0 ? options.sandbox_memory_bytes : (size_t{1} << 30) + 8 * file_bytes;
  return limits;
}

// Runs checkpoint_from_image in a sandboxed child (Note [Sandboxed load] in io/sandbox.cpp); returns the
// payload checksum it verified, or throws: the child's own error, or "...; refused" for every other end.
std::string check_in_sandbox(const std::string& path, const std::vector<unsigned char>& bytes,
                             const LoadOptions& options) {
  const sandbox::Limits limits = sandbox_limits(options, bytes.size());
  const auto fault = options.test_hooks ? options.test_hooks->child_fault : sandbox::TestFault::none;
  const sandbox::Result r = sandbox::run([&] {
    std::string checksum;
    checkpoint_from_image(path, bytes, options, checksum);
    return checksum;
  }, limits, fault);
  const char* hint = "(hint: the file passes its CRC, so it was made this way: it was crafted or written by a "
                     "broken tool; nothing was loaded)";
  switch (r.outcome) {
    case sandbox::Outcome::ok:
      return r.text;
    case sandbox::Outcome::error:
      sandbox::rethrow(r);
    case sandbox::Outcome::crashed:
      throw IoError(fmt::format("{}: the file crashed the HDF5 reader (signal {}, {}) in the sandboxed check; refused "
                                "{}", ctx(path), r.signal, sandbox::signal_name(r.signal), hint));
    case sandbox::Outcome::cpu_limit:
      throw IoError(fmt::format("{}: reading the file used more than {:g} s of CPU time in the sandboxed check; "
                                "refused {}", ctx(path), limits.cpu_seconds, hint));
    case sandbox::Outcome::memory_limit:
      throw IoError(fmt::format("{}: reading the file needed more than {} MB of memory in the sandboxed check; "
                                "refused {}", ctx(path), limits.memory_bytes >> 20, hint));
    case sandbox::Outcome::timed_out:
      throw IoError(fmt::format("{}: the HDF5 reader did not finish within {:g} s in the sandboxed check (it hung); "
                                "refused {}", ctx(path), limits.wall_seconds, hint));
    case sandbox::Outcome::bad_exit:
      throw IoError(fmt::format("{}: the sandboxed check ended without an answer (exit status {}); refused {}",
                                ctx(path), r.exit_status, hint));
    case sandbox::Outcome::not_started:
      break;
  }
  throw IoError(fmt::format("{}: cannot start the sandboxed check of the file: {} (hint: the process or memory "
                            "limit of this user is reached; try again)", ctx(path), r.text));
}

}  // namespace

void checkpoint_detail::restamp_header(std::vector<unsigned char>& file) {
  UNROLL_CHECK(file.size() >= kHeaderBytes, UsageError, "restamp_header: the image has {} bytes, fewer than the "
               "{}-byte header", file.size(), kHeaderBytes);
  stamp_header(file.data(), file.size());
}

Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options) {
  const std::vector<unsigned char> bytes = read_file(path);
  verify_header(path, bytes);
  std::string parsed;
  if (!options.sandbox) return checkpoint_from_image(path, bytes, options, parsed);
  const std::string accepted = check_in_sandbox(path, bytes, options);
  if (options.test_hooks && options.test_hooks->after_child_accepted) options.test_hooks->after_child_accepted();
  Checkpoint c = checkpoint_from_image(path, bytes, options, parsed);  // the same bytes the child parsed
  UNROLL_CHECK(parsed == accepted, IoError, "{}: the sandboxed check read payload checksum {} but this process read "
               "{}; refused (hint: HDF5 read the same bytes differently twice: the file is malformed)", ctx(path),
               accepted, parsed);
  return c;
}

// ============================================================================================
// Modules
// ============================================================================================

Checkpoint module_checkpoint(Module& module, json model_config) {
  Checkpoint c;
  c.model_config = std::move(model_config);
  for (auto& [path, p] : module.named_parameters()) c.params.emplace_back(path, p->value.clone());
  return c;
}

void load_parameters(Module& module, const Checkpoint& c, const json* expected_config) {
  const std::string where = c.source.empty() ? std::string("checkpoint") : ctx(c.source);
  const char* hint = "(hint: the checkpoint was saved from a different model or config; build the model from the "
                     "checkpoint's /model/config)";
  if (expected_config && *expected_config != c.model_config) {
    const json patch = json::diff(*expected_config, c.model_config);
    const json& op = patch.at(0);
    const std::string at = op.at("path").get<std::string>();
    const json::json_pointer ptr(at);
    std::string file_side = "no such entry", model_side = "no such entry";
    if (op.at("op") != "remove") file_side = c.model_config.at(ptr).dump();
    if (op.at("op") != "add") model_side = expected_config->at(ptr).dump();
    throw IoError(fmt::format("{}: /model/config disagrees with the model's config at {}: the file has {}, the model "
                              "has {} {}", where, at.empty() ? "/" : at, file_side, model_side, hint));
  }
  const auto named = module.named_parameters();
  // Check everything first: on error the module is left unchanged.
  for (const auto& [path, p] : named) {
    const Tensor* t = c.find_param(path);
    UNROLL_CHECK(t, IoError, "{}: /params/{} is missing; the model expects a {} parameter of shape {} {}", where, path,
                 dtype_name(p->value.dtype()), p->value.shape(), hint);
    UNROLL_CHECK(t->shape() == p->value.shape(), IoError, "{}: /params/{} has shape {} but the model expects {} {}",
                 where, path, t->shape(), p->value.shape(), hint);
    UNROLL_CHECK(t->dtype() == p->value.dtype(), IoError,
                 "{}: /params/{} has dtype {} but the model expects {} (hint: build the model with dtype {} or convert "
                 "the checkpoint)", where, path, dtype_name(t->dtype()), dtype_name(p->value.dtype()),
                 dtype_name(t->dtype()));
  }
  for (const auto& entry : c.params) {
    const std::string& path = entry.first;
    const Tensor& t = entry.second;
    const bool known = std::any_of(named.begin(), named.end(), [&](const auto& np) { return np.first == path; });
    UNROLL_CHECK(known, IoError, "{}: /params/{} ({} {}) is not a parameter of the model {}", where, path,
                 dtype_name(t.dtype()), t.shape(), hint);
  }
  for (const auto& [path, p] : named) p->value.copy_from(*c.find_param(path));
}

void save_module(const std::string& path, Module& module, const json& model_config, const SaveOptions& options) {
  save_checkpoint(path, module_checkpoint(module, model_config), options);
}

Checkpoint load_module(const std::string& path, Module& module, const json* expected_config,
                       const LoadOptions& options) {
  Checkpoint c = load_checkpoint(path, options);
  load_parameters(module, c, expected_config);
  return c;
}

}  // namespace unroll

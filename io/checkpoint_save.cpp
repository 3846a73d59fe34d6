// SPDX-License-Identifier: Apache-2.0
// What lives here: the checkpoint save path of io/checkpoint.h: Checkpoint -> HDF5 items (layout in
// docs/checkpoint-format.md), the payload checksum, and the atomic save: the HDF5 image is built in memory,
// its user block's 512-byte unroll header gets the whole-file CRC-32, then io/output_files.h's AtomicWrite
// (PID-named temporary, fsync, rename, fsync folder; stale temporaries of killed savers removed) with the
// keep-last rotation just before the rename.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <set>

#include "graph/check.h"
#include "io/checkpoint.h"
#include "io/checkpoint_file.h"
#include "io/output_files.h"

namespace unroll {

using nlohmann::json;
using h5::Item;
using h5::ItemType;
using namespace checkpoint_file;

void checkpoint_file::stamp_header(unsigned char* file, size_t size) {
  std::memset(file, 0, kHeaderBytes);
  std::memcpy(file, kMagic, 8);
  put_u32(file + 8, kHeaderLayout);
  put_u32(file + 12, h5::crc32(file + kHeaderBytes, size - kHeaderBytes));
  put_u64(file + 16, size);
  put_u32(file + 24, h5::crc32(file, 24));
}

namespace {

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

void copy_file(const std::string& from, const std::string& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  UNROLL_CHECK(in.get() >= 0, IoError, "checkpoint '{}': rotation: cannot read: {}", from, std::strerror(errno));
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  UNROLL_CHECK(out.get() >= 0, IoError, "checkpoint '{}': rotation: cannot create: {}", to, std::strerror(errno));
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    UNROLL_CHECK(n >= 0, IoError, "checkpoint '{}': rotation: read failed: {}", from, std::strerror(errno));
    if (n == 0) break;
    UNROLL_CHECK(::write(out.get(), buf.data(), static_cast<size_t>(n)) == n, IoError,
                 "checkpoint '{}': rotation: write failed: {}", to, std::strerror(errno));
  }
  ::fsync(out.get());
}

// path.(N-1) -> path.N, ..., path.1 -> path.2, then path.1 = a hard link to (or copy of) path, so `path`
// itself never disappears: the final rename(tmp, path) replaces it atomically.
void rotate(const std::string& path, int keep_last) {
  if (keep_last <= 0 || !exists(path)) return;
  auto numbered = [&](int i) { return path + "." + std::to_string(i); };
  ::unlink(numbered(keep_last).c_str());
  for (int i = keep_last - 1; i >= 1; --i)
    if (exists(numbered(i)))
      UNROLL_CHECK(::rename(numbered(i).c_str(), numbered(i + 1).c_str()) == 0, IoError,
                   "checkpoint '{}': rotating '{}' to '{}' failed: {}", path, numbered(i), numbered(i + 1),
                   std::strerror(errno));
  if (::link(path.c_str(), numbered(1).c_str()) != 0) copy_file(path, numbered(1));
}

// ---- payload items ----

void check_param_path(const std::string& what, const std::string& path) {
  bool ok = !path.empty() && path.front() != '/' && path.back() != '/' && path.find("//") == std::string::npos;
  size_t i = 0;
  while (ok && i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string c = path.substr(i, j - i);
    ok = c != "." && c != "..";
    i = j + 1;
  }
  UNROLL_CHECK(ok, UsageError, "save_checkpoint: {} path '{}' is not a valid path (hint: non-empty names joined by "
               "single '/', no '.' or '..' components)", what, path);
}


}  // namespace


// ============================================================================================
// Checkpoint -> items -> file
// ============================================================================================

namespace checkpoint_detail {

std::vector<Item> to_items(const Checkpoint& c) {
  std::vector<Item> items;
  items.push_back(Item::of_string("/model/config", "", c.model_config.dump()));
  std::set<std::string> seen;
  for (const auto& [path, t] : c.params) {
    check_param_path("parameter", path);
    UNROLL_CHECK(seen.insert(path).second, UsageError, "save_checkpoint: parameter path '{}' appears twice", path);
    UNROLL_CHECK(t.defined(), UsageError, "save_checkpoint: parameter '{}' has no value", path);
    items.push_back(Item::of_tensor("/params/" + path, t));
  }
  if (c.has_optimizer) {
    items.push_back(Item::of_string("/optimizer", "kind", c.optimizer.kind));
    items.push_back(Item::of_string("/optimizer", "hyper", c.optimizer.hyper.dump()));
    items.push_back(Item::of_i64("/optimizer", "step", {c.optimizer.step}));
    for (const auto& [param, slots] : c.optimizer.slots) {
      check_param_path("optimizer slot parameter", param);
      for (const auto& [slot, t] : slots) {
        UNROLL_CHECK(!slot.empty() && slot.find('/') == std::string::npos && slot != "." && slot != "..", UsageError,
                     "save_checkpoint: optimizer slot name '{}' of '{}' must be one path component", slot, param);
        UNROLL_CHECK(t.defined(), UsageError, "save_checkpoint: optimizer slot '{}' of '{}' has no value", slot, param);
        items.push_back(Item::of_tensor("/optimizer/slots/" + param + "/" + slot, t));
      }
    }
  }
  if (c.has_rng) items.push_back(Item::of_u64("/rng/state", "", {c.rng.begin(), c.rng.end()}));
  const TrainerProgress& p = c.progress;
  items.push_back(Item::of_i64("/trainer", "epoch", {p.epoch}));
  items.push_back(Item::of_i64("/trainer", "step", {p.step}));
  items.push_back(Item::of_i64("/trainer", "data_cursor", {p.data_cursor}));
  items.push_back(Item::of_u64("/trainer", "shuffle_seed", {p.shuffle_seed}));
  items.push_back(Item::of_string("/trainer/schedule", "", p.schedule.dump()));
  items.push_back(Item::of_string("/trainer/history", "", p.history.dump()));
  items.push_back(Item::of_string("/data/scaler", "", c.scaler.dump()));
  items.push_back(Item::of_string("/extra", "", c.extra.dump()));
  return items;
}

std::string payload_checksum(const std::vector<Item>& items) {
  std::vector<const Item*> sorted;
  for (const Item& it : items)
    if (!(it.path == "/" && it.is_attribute())) sorted.push_back(&it);
  std::sort(sorted.begin(), sorted.end(), [](const Item* a, const Item* b) {
    return a->path != b->path ? a->path < b->path : a->attr < b->attr;
  });
  uint32_t crc = 0;
  for (const Item* it : sorted) {
    const std::string head = it->path + '\0' + it->attr + '\0' + it->shape_str() + '\0';
    crc = h5::crc32(head.data(), head.size(), crc);
    crc = h5::crc32(it->bytes(), it->nbytes(), crc);
  }
  return fmt::format("crc32:{:08x}", crc);
}

void save_items(const std::string& path, std::vector<Item> items, const SaveOptions& options) {
  auto has_root = [&](const char* attr) {
    return std::any_of(items.begin(), items.end(), [&](const Item& it) { return it.path == "/" && it.attr == attr; });
  };
  const std::string checksum = payload_checksum(items);
  if (!has_root("format")) items.push_back(Item::of_string("/", "format", kCheckpointFormat));
  if (!has_root("format_version")) items.push_back(Item::of_i64("/", "format_version", {kCheckpointFormatVersion}));
  if (!has_root("library_version")) items.push_back(Item::of_string("/", "library_version", UNROLL_VERSION));
  if (!has_root("created")) items.push_back(Item::of_string("/", "created", iso_now()));
  if (!has_root("checksum")) items.push_back(Item::of_string("/", "checksum", checksum));

  const std::string failed = fmt::format("{}: saving failed, the previous checkpoint is untouched", ctx(path));
  std::string image = h5::write_image(path, items, kHeaderBytes);
  UNROLL_CHECK(image.size() > kHeaderBytes, IoError, "{}: HDF5 wrote an image of {} bytes", failed, image.size());
  stamp_header(reinterpret_cast<unsigned char*>(image.data()), image.size());
  // The temporary is removed on any failure below (disk full, file size limit, a failed rotation).
  AtomicWrite file(path, failed);
  file.write(image);
  rotate(path, options.keep_last);
  file.commit();
}

}  // namespace checkpoint_detail

void save_checkpoint(const std::string& path, const Checkpoint& ckpt, const SaveOptions& options) {
  checkpoint_detail::save_items(path, checkpoint_detail::to_items(ckpt), options);
}

}  // namespace unroll

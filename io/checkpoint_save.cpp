// What lives here: the checkpoint save path of io/checkpoint.h: Checkpoint -> HDF5 items (layout in
// docs/checkpoint-format.md), the payload checksum, and the atomic save (temp file in the HDF5 user block's
// 512-byte unroll header with the whole-file CRC-32, fsync, rename, fsync folder, keep-last rotation,
// stale temp files of killed savers removed).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
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

namespace unroll {

using nlohmann::json;
using h5::Item;
using h5::ItemType;
using namespace checkpoint_file;

namespace {

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Computes the whole-file CRC over bytes [kHeaderBytes, end) of `tmp` and writes the header; fsyncs.
void stamp_header(const std::string& path, const std::string& tmp) {
  Fd fd(::open(tmp.c_str(), O_RDWR | O_CLOEXEC));
  UNROLL_CHECK(fd.get() >= 0, IoError, "{}: saving failed: cannot reopen temporary file '{}': {}", ctx(path), tmp,
               std::strerror(errno));
  std::vector<unsigned char> buf(1 << 20);
  uint64_t size = 0;
  uint32_t crc = 0;
  if (::lseek(fd.get(), static_cast<off_t>(kHeaderBytes), SEEK_SET) < 0)
    throw IoError(fmt::format("{}: saving failed: seek in '{}': {}", ctx(path), tmp, std::strerror(errno)));
  size = kHeaderBytes;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    UNROLL_CHECK(n >= 0, IoError, "{}: saving failed: reading back '{}': {}", ctx(path), tmp, std::strerror(errno));
    if (n == 0) break;
    crc = h5::crc32(buf.data(), static_cast<size_t>(n), crc);
    size += static_cast<uint64_t>(n);
  }
  unsigned char header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, 8);
  put_u32(header + 8, kHeaderLayout);
  put_u32(header + 12, crc);
  put_u64(header + 16, size);
  put_u32(header + 24, h5::crc32(header, 24));
  UNROLL_CHECK(::pwrite(fd.get(), header, kHeaderBytes, 0) == static_cast<ssize_t>(kHeaderBytes), IoError,
               "{}: saving failed: writing the header of '{}': {}", ctx(path), tmp, std::strerror(errno));
  UNROLL_CHECK(::fsync(fd.get()) == 0, IoError, "{}: saving failed: fsync of '{}': {} (hint: the previous checkpoint "
               "is untouched)", ctx(path), tmp, std::strerror(errno));
  UNROLL_CHECK(fd.release_close() == 0, IoError, "{}: saving failed: closing '{}': {}", ctx(path), tmp,
               std::strerror(errno));
}

void fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());  // best effort: some filesystems refuse directory fsync
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

// Removes "<base>.tmp-<pid>" files left by savers that were killed (their pid no longer exists).
void remove_stale_temps(const std::string& path) {
  const std::string dir = parent_dir(path), prefix = base_name(path) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
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

  remove_stale_temps(path);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  struct Unlinker {  // removes the temporary file unless the save committed
    const std::string& p;
    bool armed = true;
    ~Unlinker() {
      if (armed) ::unlink(p.c_str());
    }
  } cleanup{tmp};
  try {
    h5::write_items(tmp, items, kHeaderBytes);
  } catch (const IoError& e) {
    throw IoError(fmt::format("{}: saving failed, the previous checkpoint is untouched: {} (hint: is the disk full or "
                              "a file size limit set? is the folder writable?)", ctx(path), e.what()));
  }
  stamp_header(path, tmp);
  rotate(path, options.keep_last);
  UNROLL_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, IoError, "{}: saving failed: renaming '{}' over it: {} "
               "(hint: the previous checkpoint is untouched)", ctx(path), tmp, std::strerror(errno));
  cleanup.armed = false;
  fsync_dir(parent_dir(path));
}

}  // namespace checkpoint_detail

void save_checkpoint(const std::string& path, const Checkpoint& ckpt, const SaveOptions& options) {
  checkpoint_detail::save_items(path, checkpoint_detail::to_items(ckpt), options);
}

}  // namespace unroll

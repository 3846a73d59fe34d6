// What lives here: checkpoints. Checkpoint <-> HDF5 items (layout in docs/checkpoint-format.md), the
// 512-byte unroll header in the HDF5 user block (whole-file CRC-32, checked before HDF5 parses a byte),
// the payload checksum, the atomic save (temp file, fsync, rename, fsync folder, keep-last rotation),
// validation on load, and copying parameters into a Module by path.
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
#include "models/module.h"

#ifndef UNROLL_VERSION
#define UNROLL_VERSION "unknown"
#endif

namespace unroll {

using nlohmann::json;
using h5::Item;
using h5::ItemType;

const Tensor* Checkpoint::find_param(const std::string& path) const {
  for (const auto& [p, t] : params)
    if (p == path) return &t;
  return nullptr;
}

namespace {

constexpr char kMagic[8] = {'U', 'N', 'R', 'O', 'L', 'L', 'C', 'K'};
constexpr uint32_t kHeaderLayout = 1;
constexpr size_t kHeaderBytes = checkpoint_detail::kHeaderBytes;

std::string ctx(const std::string& path) { return fmt::format("checkpoint '{}'", path); }

// ---- little-endian helpers for the header ----
void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// A POSIX file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release_close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

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

std::vector<unsigned char> read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  UNROLL_CHECK(fd.get() >= 0, IoError, "{}: cannot open for reading: {} (hint: check the path and the working "
               "directory)", ctx(path), std::strerror(errno));
  struct stat st;
  UNROLL_CHECK(::fstat(fd.get(), &st) == 0, IoError, "{}: cannot stat: {}", ctx(path), std::strerror(errno));
  UNROLL_CHECK(S_ISREG(st.st_mode), IoError, "{}: not a regular file (hint: pass the checkpoint file, not a folder)",
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
    return json::parse(it.str);
  } catch (const json::exception& e) {
    throw IoError(fmt::format("{}: {} is not valid JSON: {}", ctx(path), it.key(), e.what()));
  }
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

// ============================================================================================
// file -> items -> Checkpoint
// ============================================================================================

Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options) {
  const std::vector<unsigned char> bytes = read_file(path);
  verify_header(path, bytes);
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

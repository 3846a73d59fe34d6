// SPDX-License-Identifier: Apache-2.0
// What lives here: io/output_files.h: atomic text writes, the replaceable-target check, PID-named
// temporaries and their cleanup, and the output-folder lock (Note [Output files]).
#include "io/output_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "graph/check.h"

namespace unroll {

namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISREG(mode)) return "a regular file";
  return "a special file";
}

// A file descriptor closed on scope exit.
struct FdGuard {
  int fd;
  explicit FdGuard(int f) : fd(f) {}
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
};

void fsync_folder(const std::string& dir) {
  FdGuard fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd >= 0) ::fsync(fd.fd);  // best effort: some file systems refuse a folder fsync
}

// Kernel file systems where outputs make no sense (and writes fail in confusing ways).
const char* kernel_file_system(const std::string& existing) {
  struct statfs fs {};
  if (::statfs(existing.c_str(), &fs) != 0) return nullptr;
  constexpr long kProc = 0x9fa0, kSysfs = 0x62656572, kCgroup = 0x27e0eb, kCgroup2 = 0x63677270;
  if (fs.f_type == kProc) return "/proc";
  if (fs.f_type == kSysfs) return "/sys";
  if (fs.f_type == kCgroup || fs.f_type == kCgroup2) return "a cgroup file system";
  return nullptr;
}

// The nearest existing ancestor of dir (dir itself when it exists).
std::string nearest_existing(std::string dir) {
  struct stat st {};
  while (::stat(dir.c_str(), &st) != 0) {
    const std::string up = parent_of(dir);
    if (up == dir) break;
    dir = up;
  }
  return dir;
}

}  // namespace

void check_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // missing: fine (other errors surface when writing)
  UNROLL_CHECK(S_ISREG(st.st_mode), IoError,
               "{}: refusing to replace it: it is {}, not a regular file (hint: name a new or regular file{})", path,
               kind_of(st.st_mode), S_ISDIR(st.st_mode) ? " inside the folder" : "");
}

std::string temporary_name(const std::string& path) { return path + ".tmp-" + std::to_string(::getpid()); }

void remove_stale_temporaries(const std::string& path) {
  const std::string dir = parent_of(path), prefix = name_of(path) + ".tmp-";
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

AtomicWrite::AtomicWrite(std::string path, std::string label)
    : path_(std::move(path)), label_(label.empty() ? path_ : std::move(label)), tmp_(temporary_name(path_)) {
  UNROLL_CHECK(!path_.empty(), IoError, "an output file name is empty");
  check_replaceable(path_);
  remove_stale_temporaries(path_);
  ::unlink(tmp_.c_str());  // a leftover of an earlier process with our PID
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd_ < 0) fail("creating", errno);
}

AtomicWrite::~AtomicWrite() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicWrite::fail(const char* stage, int err) const {
  throw IoError(fmt::format("{}: {} '{}' failed: {} (hint: is the disk full or a file size limit set? is the folder "
                            "writable?)",
                            label_, stage, tmp_, std::strerror(err)));
}

void AtomicWrite::write(std::string_view bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("writing", n == 0 ? ENOSPC : errno);
    done += static_cast<size_t>(n);
  }
}

void AtomicWrite::commit() {
  if (::fsync(fd_) != 0) fail("fsync of", errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail("closing", errno);
  check_replaceable(path_);  // again: the target may have changed while we wrote
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("renaming", errno);
  committed_ = true;
  fsync_folder(parent_of(path_));
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicWrite w(path);
  w.write(bytes);
  w.commit();
}

std::vector<std::string> existing_entries(const std::string& dir, const std::vector<std::string>& names) {
  std::vector<std::string> found;
  struct stat st {};
  for (const auto& n : names)
    if (::lstat((dir + "/" + n).c_str(), &st) == 0) found.push_back(n);
  return found;
}

OutputFolder::OutputFolder(const std::string& dir, const std::string& option, const std::string& busy_hint)
    : dir_(dir) {
  UNROLL_CHECK(!dir.empty(), IoError, "{} is empty (hint: name an output folder, e.g. {} runs/first)", option, option);
  if (const char* kernel = kernel_file_system(nearest_existing(dir)))
    throw IoError(fmt::format("{} {}: is under {}, which cannot hold outputs (hint: choose a folder on a disk)", option,
                              dir, kernel));
  // Create the folder and its parents one level at a time, so the message names the level that failed.
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    std::vector<std::string> missing;
    for (std::string at = dir; ::stat(at.c_str(), &st) != 0;) {
      missing.push_back(at);
      const std::string up = parent_of(at);
      if (up == at) break;
      at = up;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it)
      UNROLL_CHECK(::mkdir(it->c_str(), 0777) == 0 || errno == EEXIST, IoError,
                   "{} {}: cannot create the folder {}: {} (hint: choose a folder you can write to)", option, dir, *it,
                   std::strerror(errno));
  }
  UNROLL_CHECK(::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), IoError,
               "{} {}: is {}, not a folder (hint: name a folder; unroll writes several files into it)", option, dir,
               ::stat(dir.c_str(), &st) == 0 ? kind_of(st.st_mode) : "missing");
  // Writable? Create (and remove) a file: permission bits, read-only mounts and ACLs all show up here.
  const std::string probe = dir + "/.unroll.probe-" + std::to_string(::getpid());
  {
    FdGuard p(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    UNROLL_CHECK(p.fd >= 0, IoError, "{} {}: cannot write into the folder: {} (hint: choose a folder you can write to)",
                 option, dir, std::strerror(errno));
    ::unlink(probe.c_str());
  }
  const std::string lock = dir + "/.unroll.lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  UNROLL_CHECK(fd_ >= 0, IoError, "{} {}: cannot create the lock file {}: {}", option, dir, lock, std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw IoError(fmt::format("{} {}: is in use by another unroll process{} (hint: {})", option, dir,
                                holder.empty() ? "" : fmt::format(" (pid {})", holder),
                                busy_hint.empty() ? "wait for it to finish, or choose another folder" : busy_hint));
    throw IoError(fmt::format("{} {}: cannot lock {}: {}", option, dir, lock, std::strerror(err)));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // Best effort: without the PID the lock still holds; only a second process's message loses the number.
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

OutputFolder::~OutputFolder() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (removing it would race a new holder)
}

}  // namespace unroll

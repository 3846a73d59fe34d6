// SPDX-License-Identifier: Apache-2.0
// What lives here: the one way unroll writes files and output folders (Note [Output files]):
// write_file_atomically for every text output (reports, forecasts, plot scripts), the checks the
// checkpoint save shares (replaceable targets, PID-named temporaries, stale temporaries of dead
// processes), and OutputFolder, the exclusive lock a run holds on its folder.
//
// Note [Output files]: an output path is written only through a temporary "<path>.tmp-<pid>" in the same
// folder, renamed over the path at the end, so a reader never sees half a file and a failed write leaves
// no temporary behind. A path that exists and is not a regular file (a symlink, directory, device, FIFO
// or socket) is refused with IoError before anything is written: renaming over it would silently replace
// it (e.g. /dev/full would become a regular file). A folder written by a run is locked with flock on
// "<folder>/.unroll.lock" for the run's lifetime; the kernel drops the lock when the process dies in any
// way, and the file holds the holder's PID for the refusal message.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace unroll {

// Throws IoError when `path` exists and is not a regular file (lstat: a symlink is refused too).
void check_replaceable(const std::string& path);

// "<path>.tmp-<pid>": the temporary name every atomic write of `path` uses.
std::string temporary_name(const std::string& path);

// Removes "<name of path>.tmp-<pid>" files beside `path` whose process no longer exists.
void remove_stale_temporaries(const std::string& path);

// One atomic write of `path` (Note [Output files]): the constructor refuses a target that is not
// replaceable and creates the temporary; write() appends; commit() fsyncs, renames over `path` and fsyncs
// the folder. Until commit() succeeds the destructor removes the temporary, so any failure (an exception
// anywhere between) leaves `path` untouched and no temporary behind. Every failure is an IoError
// "<label>: <stage> '<temporary>' failed: <reason> (hint: ...)"; label defaults to the path.
class AtomicWrite {
 public:
  explicit AtomicWrite(std::string path, std::string label = "");
  ~AtomicWrite();
  AtomicWrite(const AtomicWrite&) = delete;
  AtomicWrite& operator=(const AtomicWrite&) = delete;
  void write(std::string_view bytes);
  void commit();
  const std::string& temporary() const { return tmp_; }

 private:
  [[noreturn]] void fail(const char* stage, int err) const;
  std::string path_, label_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes bytes to path with one AtomicWrite. The folder must exist.
void write_file_atomically(const std::string& path, std::string_view bytes);

// An output folder held exclusively by this process while the object lives.
class OutputFolder {
 public:
  // Creates `dir` (and its parents) if missing, checks it is a writable folder and takes the lock.
  // `option` names the command-line option in messages ("--out"). IoError, one line, when `dir` is
  // empty, a file, under /proc or /sys, not creatable or not writable, or locked by another process
  // (naming its PID; `busy_hint` replaces the default hint of that message).
  OutputFolder(const std::string& dir, const std::string& option, const std::string& busy_hint = "");
  ~OutputFolder();
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int fd_ = -1;
};

// The names in `names` that exist in `dir` (lstat), in the order given.
std::vector<std::string> existing_entries(const std::string& dir, const std::vector<std::string>& names);

}  // namespace unroll

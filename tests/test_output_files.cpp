// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of io/output_files.h (Note [Output files]): atomic writes refuse targets that
// are not regular files and leave no temporary on failure, the output-folder lock excludes a second
// holder and names its PID, bad output folders are refused in one line; and a checkpoint save that hits a
// file size limit leaves HDF5 with no open file, so the process exits normally (it used to crash in
// HDF5's exit handler).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "io/output_files.h"
#include "test_checkpoint_helpers.h"
#include "unroll.h"

using namespace unroll;
using namespace unroll::testing;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The names in dir that contain ".tmp-".
std::vector<std::string> temporaries_in(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) found.push_back(e.path().filename());
  return found;
}

// Runs body in a child process under a file size limit of `bytes` with SIGXFSZ ignored (as the CLI does);
// the child ends with std::exit(body()), so HDF5's and the C library's exit handlers run. Returns the
// child's exit code, or 128 + signal when it died by one.
template <class Body>
int in_child_with_file_limit(rlim_t bytes, Body body) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{bytes, bytes};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    std::exit(body());
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("output files: an atomic write replaces a regular file and leaves no temporary") {
  ScratchDir dir;
  const std::string path = dir.file("report.json");
  write_file_atomically(path, "first\n");
  write_file_atomically(path, "second\n");
  CHECK(read_text(path) == "second\n");
  CHECK(temporaries_in(dir.path()).empty());
  CHECK(temporary_name(path) == path + ".tmp-" + std::to_string(::getpid()));
}

TEST_CASE("output files: a symlink, folder, FIFO or device is refused and left as it was") {
  ScratchDir dir;
  const std::string target = dir.file("target.txt"), link = dir.file("link.txt"), fifo = dir.file("fifo"),
                    folder = dir.file("folder");
  write_file_atomically(target, "keep\n");
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  std::filesystem::create_directory(folder);
  CHECK_THROWS_WITH_AS(write_file_atomically(link, "x"),
                       doctest::Contains(fmt::format("{}: refusing to replace it: it is a symbolic link", link).c_str()),
                       IoError);
  CHECK_THROWS_WITH_AS(write_file_atomically(fifo, "x"), doctest::Contains("it is a FIFO, not a regular file"), IoError);
  CHECK_THROWS_WITH_AS(write_file_atomically(folder, "x"), doctest::Contains("it is a folder"), IoError);
  CHECK_THROWS_WITH_AS(check_replaceable("/dev/null"), doctest::Contains("it is a device"), IoError);
  struct stat st {};
  REQUIRE(::lstat(link.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK(read_text(target) == "keep\n");
  CHECK(temporaries_in(dir.path()).empty());
}

TEST_CASE("output files: a write over the file size limit fails in one line and leaves no temporary") {
  ScratchDir dir;
  const std::string path = dir.file("forecast.csv");
  write_file_atomically(path, "old\n");
  const int code = in_child_with_file_limit(4096, [&] {
    try {
      write_file_atomically(path, std::string(1 << 20, 'x'));
    } catch (const IoError& e) {
      const std::string m = e.what();
      return m.find("File too large") != std::string::npos && m.find('\n') == std::string::npos ? 0 : 3;
    }
    return 4;
  });
  CHECK(code == 0);
  CHECK(read_text(path) == "old\n");
  CHECK(temporaries_in(dir.path()).empty());
}

TEST_CASE("output files: a checkpoint save over the file size limit leaves HDF5 clean, so the process exits normally") {
  ScratchDir dir;
  const std::string path = dir.file("checkpoint.h5");
  Checkpoint c;
  c.model_config = {{"kind", "big"}};
  c.params.emplace_back("w", Tensor::full({1 << 20}, DType::f32, 1.0));
  const int code = in_child_with_file_limit(64 * 1024, [&] {
    try {
      save_checkpoint(path, c);
    } catch (const IoError& e) {
      return std::string(e.what()).find("File too large") != std::string::npos ? 0 : 3;
    }
    return 4;
  });
  CHECK(code == 0);  // not 128 + SIGSEGV from HDF5's exit handler
  CHECK(temporaries_in(dir.path()).empty());
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("output folder: a second holder is refused naming the first one's PID, and the lock ends with the holder") {
  ScratchDir dir;
  const std::string run = dir.file("runs/a");
  {
    OutputFolder first(run, "--out");
    CHECK(std::filesystem::is_directory(run));
    // flock locks belong to an open file description: a second one in this process conflicts like another process.
    CHECK_THROWS_WITH_AS(OutputFolder(run, "--out"),
                         fmt::format("--out {}: is in use by another unroll process (pid {}) (hint: wait for it to "
                                     "finish, or choose another folder)",
                                     run, ::getpid())
                             .c_str(),
                         IoError);
  }
  OutputFolder again(run, "--out");  // released
  CHECK(again.dir() == run);
}

TEST_CASE("output folder: empty, a file, under /proc, or not creatable is refused in one line") {
  ScratchDir dir;
  write_file_atomically(dir.file("file"), "x");
  CHECK_THROWS_WITH_AS(OutputFolder("", "--out"), doctest::Contains("--out is empty"), IoError);
  CHECK_THROWS_WITH_AS(OutputFolder(dir.file("file"), "--out"), doctest::Contains("is a regular file, not a folder") ,
                       IoError);
  CHECK_THROWS_WITH_AS(OutputFolder(dir.file("file/sub"), "--out"),
                       doctest::Contains(fmt::format("cannot create the folder {}: Not a directory", dir.file("file/sub")).c_str()),
                       IoError);
  CHECK_THROWS_WITH_AS(OutputFolder("/proc/self/unroll-out", "--out"), doctest::Contains("is under /proc"), IoError);
  if (::geteuid() != 0) {  // root writes anywhere: the permission case needs an ordinary user
    const std::string locked = dir.file("readonly");
    std::filesystem::create_directory(locked);
    ::chmod(locked.c_str(), 0555);
    CHECK_THROWS_WITH_AS(OutputFolder(locked, "--out"), doctest::Contains("cannot write into the folder: Permission denied"),
                         IoError);
    ::chmod(locked.c_str(), 0755);
  }
}

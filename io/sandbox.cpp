// SPDX-License-Identifier: Apache-2.0
// What lives here: io/sandbox.h: fork, the child's limits and signal set-up, the answer over a pipe, and
// the parent's bounded wait that turns every way the child can end into an Outcome.
//
// Note [Sandboxed load]: load_checkpoint (io/checkpoint.cpp) reads the file into memory once, checks the
// header and whole-file CRC, then parses *that buffer* with HDF5 and runs every validation first in a
// child made by fork() and only then in the caller. Why this shape:
//  - No time-of-check/time-of-use gap: the child gets a copy-on-write image of the very bytes the parent
//    will parse; the parent never reopens the path, so a file replaced or rewritten after the read cannot
//    reach HDF5 in the parent. The child also returns the payload checksum it computed; the parent
//    requires its own parse to give the same one.
//  - fork() in a process that already runs OpenMP/oneDNN worker threads: the child has one thread, the
//    one that called fork(). It only parses (HDF5 over a memory image, nlohmann::json, Tensor buffers:
//    malloc, which glibc and the sanitizers make safe after fork) and never enters OpenMP or oneDNN,
//    whose state the child must not touch. HDF5's globals are consistent in the child because the fork
//    happens while holding Note [HDF5 is one global]'s lock (h5::fork_between_hdf5_calls): no other
//    thread is inside HDF5 at that instant. Forking a helper before any threads exist was rejected: the
//    library has no "before threads" moment (oneDNN may be used before the first load), and a
//    long-lived helper is one more process to manage.
//  - Limits (child only): RLIMIT_AS = what it inherited + the budget, RLIMIT_CPU, RLIMIT_FSIZE 0 (no file
//    writes), RLIMIT_NOFILE 0 (no new files, sockets or dlopen'ed HDF5 plugins; inherited descriptors
//    but the answer pipe are closed), RLIMIT_CORE 0, stdin/stdout/stderr on /dev/null, crash signals
//    at their default action (no inherited handler runs on a crash), SIGINT/SIGTERM/SIGHUP/SIGQUIT
//    ignored (a Ctrl-C in the terminal is the parent's business), PR_SET_PDEATHSIG so it dies with the
//    parent. The child ends with _exit (no atexit handlers, no double flush of inherited stdio buffers).
//    Under AddressSanitizer (the UNROLL_SANITIZE and fuzz builds, which add UBSan) RLIMIT_AS is not set
//    (the shadow mappings need terabytes of address space) and RLIMIT_NOFILE is 16, not 0 (UBSan's vptr
//    check tests memory by writing it to a pipe; without one every virtual call looks invalid); the CPU
//    limit, the wall deadline and the rest hold there too.
//  - What it does not do: it is not a security boundary against code execution (no seccomp filter, no
//    namespaces): a crafted file that turns an HDF5 bug into running code in the child could still
//    execve other programs with the user's permissions and, as root, raise its own limits; towards the
//    parent it can only *answer* through one pipe, and the parent still parses and validates itself.
#include "io/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <new>

#include "graph/check.h"
#include "io/hdf5.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNROLL_SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNROLL_SANDBOX_ASAN 1
#endif
#endif
#ifndef UNROLL_SANDBOX_ASAN
#define UNROLL_SANDBOX_ASAN 0
#endif

namespace unroll::sandbox {

namespace {

constexpr size_t kMaxAnswerBytes = 1 << 20;  // a longer answer is not one our child writes

// The answer's first byte.
constexpr char kTagOk = 'K', kTagError = 'E', kTagNoMemory = 'M', kTagInternal = 'X';

// The address space the process has mapped now (the child inherits exactly this).
size_t mapped_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "re");
  if (!f) return 0;
  unsigned long pages = 0;
  const int got = std::fscanf(f, "%lu", &pages);
  std::fclose(f);
  return got == 1 ? pages * static_cast<size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void set_limit(int resource, rlim_t soft, rlim_t hard) {
  struct rlimit r;
  r.rlim_cur = soft;
  r.rlim_max = hard;
  ::setrlimit(resource, &r);  // lowering a limit cannot fail for lack of privilege
}

// Closes every descriptor >= `first` except `keep`.
void close_all_from(int first, int keep) {
  if (keep > first && ::close_range(static_cast<unsigned>(first), static_cast<unsigned>(keep - 1), 0) != 0) {
    for (int fd = first; fd < keep; ++fd) ::close(fd);
  }
  if (::close_range(static_cast<unsigned>(keep + 1), ~0U, 0) != 0) {
    struct rlimit r;
    const int top = ::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < 65536 ? static_cast<int>(r.rlim_cur) : 65536;
    for (int fd = keep + 1; fd < top; ++fd) ::close(fd);
  }
}

[[noreturn]] void do_fault(TestFault fault, size_t memory_bytes) {
  switch (fault) {
    case TestFault::segfault:
      ::raise(SIGSEGV);
      break;
    case TestFault::spin:
      for (volatile unsigned long i = 0;;) i = i + 1;
    case TestFault::sleep:
      for (;;) ::pause();
    case TestFault::allocate: {
      // More than the budget in one block: under RLIMIT_AS the allocation itself fails.
      void* volatile kept = ::operator new(memory_bytes + (size_t{1} << 30));  // volatile: not optimised away
      (void)kept;
      break;
    }
    case TestFault::none:
      break;
  }
  ::_exit(3);
}

// Everything the child does; never returns.
[[noreturn]] void child_main(const std::function<std::string()>& work, const Limits& limits, TestFault fault,
                             int answer_fd, int devnull_fd, pid_t parent, rlim_t address_space) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(4);  // the parent died before the line above took effect

  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGXCPU, SIGXFSZ})
    ::signal(sig, SIG_DFL);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(sig, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // A parent started with stdin/stdout/stderr closed may have got the pipe or /dev/null as 0..2.
  if (answer_fd < 3) answer_fd = ::fcntl(answer_fd, F_DUPFD_CLOEXEC, 3);
  if (devnull_fd >= 0 && devnull_fd < 3) devnull_fd = ::fcntl(devnull_fd, F_DUPFD_CLOEXEC, 3);
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    if (devnull_fd >= 0) ::dup2(devnull_fd, fd);
    else ::close(fd);
  }
  // Every other inherited descriptor goes: the parent's files and sockets, and the answer pipes of other
  // threads' sandboxes (held open here, they would delay those parents' end-of-answer).
  close_all_from(3, answer_fd);

  const rlim_t cpu = static_cast<rlim_t>(limits.cpu_seconds < 1 ? 1 : limits.cpu_seconds + 0.999);
  set_limit(RLIMIT_CPU, cpu, cpu + 1);
  set_limit(RLIMIT_CORE, 0, 0);
  set_limit(RLIMIT_FSIZE, 0, 0);
  const rlim_t files = UNROLL_SANDBOX_ASAN ? 16 : 0;  // the sanitizers probe memory through a pipe of their own
  set_limit(RLIMIT_NOFILE, files, files);
  if (address_space > 0) set_limit(RLIMIT_AS, address_space, address_space);

  std::string answer;
  try {
    if (fault != TestFault::none) do_fault(fault, limits.memory_bytes);
    answer = kTagOk + work();
  } catch (const std::bad_alloc&) {
    answer = std::string(1, kTagNoMemory);
  } catch (const Error& e) {
    ErrorType type = ErrorType::other;
    if (dynamic_cast<const IoError*>(&e)) type = ErrorType::io;
    else if (dynamic_cast<const DataError*>(&e)) type = ErrorType::data;
    else if (dynamic_cast<const UsageError*>(&e)) type = ErrorType::usage;
    else if (dynamic_cast<const ShapeError*>(&e)) type = ErrorType::shape;
    else if (dynamic_cast<const DTypeError*>(&e)) type = ErrorType::dtype;
    else if (dynamic_cast<const NumericError*>(&e)) type = ErrorType::numeric;
    answer = std::string(1, kTagError) + static_cast<char>(type) + e.what();
  } catch (const std::exception& e) {
    answer = kTagInternal + std::string(e.what());
  } catch (...) {
    answer = kTagInternal + std::string("unknown exception");
  }
  write_all(answer_fd, answer);
  ::_exit(0);
}

using Clock = std::chrono::steady_clock;

int millis_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : left > 1000 ? 1000 : static_cast<int>(left);
}

// Reads the answer until EOF, the deadline or kMaxAnswerBytes; false on the deadline.
bool read_answer(int fd, Clock::time_point deadline, std::string& answer) {
  char buf[4096];
  for (;;) {
    if (Clock::now() >= deadline) return false;
    struct pollfd p = {fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, millis_until(deadline));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return true;
    answer.append(buf, static_cast<size_t>(n));
    if (answer.size() > kMaxAnswerBytes) return true;  // judged (and refused) below
  }
}

// waitpid with a deadline; false when the child is still running at the deadline. `reaped` is false when
// someone else reaps our children (SIGCHLD ignored): then only the answer tells.
bool wait_child(pid_t pid, Clock::time_point deadline, int& status, struct rusage& usage, bool& reaped) {
  for (;;) {
    const pid_t r = ::wait4(pid, &status, WNOHANG, &usage);
    if (r == pid) {
      reaped = true;
      return true;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      reaped = false;
      return true;
    }
    if (Clock::now() >= deadline) return false;
    struct timespec ts = {0, 1000000};  // 1 ms
    ::nanosleep(&ts, nullptr);
  }
}

double cpu_seconds_used(const struct rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

Result run(const std::function<std::string()>& work, const Limits& limits, TestFault fault) {
  Result result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.text = std::strerror(errno);
    return result;
  }
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  rlim_t address_space = 0;
  if (limits.memory_bytes > 0 && !UNROLL_SANDBOX_ASAN) address_space = mapped_bytes() + limits.memory_bytes;
  const pid_t parent = ::getpid();

  const pid_t pid = h5::fork_between_hdf5_calls();
  if (pid == 0) {
    ::close(fds[0]);
    child_main(work, limits, fault, fds[1], devnull, parent, address_space);
  }
  const int fork_errno = errno;
  ::close(fds[1]);
  if (devnull >= 0) ::close(devnull);
  if (pid < 0) {
    ::close(fds[0]);
    result.text = std::strerror(fork_errno);
    return result;
  }

  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(limits.wall_seconds));
  std::string answer;
  const bool answered = read_answer(fds[0], deadline, answer);
  ::close(fds[0]);
  int status = 0;
  struct rusage usage {};
  bool reaped = false;
  if (!answered || !wait_child(pid, deadline, status, usage, reaped)) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.outcome = Outcome::timed_out;
    return result;
  }

  if (reaped && WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    const bool over_cpu = result.signal == SIGXCPU ||
                          (result.signal == SIGKILL && cpu_seconds_used(usage) >= static_cast<double>(
                                                           static_cast<rlim_t>(limits.cpu_seconds + 0.999)));
    result.outcome = over_cpu ? Outcome::cpu_limit : Outcome::crashed;
    return result;
  }
  if (reaped && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.outcome = Outcome::bad_exit;
    return result;
  }
  // Exit status 0 (or unknown): the answer decides.
  if (answer.empty() || answer.size() > kMaxAnswerBytes) {
    result.outcome = Outcome::bad_exit;
    return result;
  }
  const char tag = answer[0];
  if (tag == kTagOk) {
    result.outcome = Outcome::ok;
    result.text = answer.substr(1);
  } else if (tag == kTagNoMemory) {
    result.outcome = Outcome::memory_limit;
  } else if (tag == kTagError && answer.size() >= 2) {
    result.outcome = Outcome::error;
    result.error_type = static_cast<ErrorType>(answer[1]);
    result.text = answer.substr(2);
  } else if (tag == kTagInternal) {
    result.outcome = Outcome::error;
    result.error_type = ErrorType::internal;
    result.text = answer.substr(1);
  } else {
    result.outcome = Outcome::bad_exit;
  }
  return result;
}

void rethrow(const Result& result) {
  const std::string& m = result.text;
  switch (result.error_type) {
    case ErrorType::io: throw IoError(m);
    case ErrorType::data: throw DataError(m);
    case ErrorType::usage: throw UsageError(m);
    case ErrorType::shape: throw ShapeError(m);
    case ErrorType::dtype: throw DTypeError(m);
    case ErrorType::numeric: throw NumericError(m);
    case ErrorType::internal: throw std::runtime_error(m);
    case ErrorType::other: break;
  }
  throw Error(m);
}

std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

}  // namespace unroll::sandbox

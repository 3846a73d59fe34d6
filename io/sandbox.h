// SPDX-License-Identifier: Apache-2.0
// What lives here: running one piece of untrusted-input parsing in a forked child process under resource
// limits (memory, CPU time, no file writes, no new files, no terminal output), so that a crash, a runaway
// allocation or a hang in a library we cannot fix (HDF5) kills the child, never the caller. The child
// reports success or the unroll::Error it threw through a pipe; everything else is an Outcome the caller
// turns into its own message. Used by load_checkpoint (Note [Sandboxed load] in io/sandbox.cpp).
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace unroll::sandbox {

struct Limits {
  double cpu_seconds = 10;     // RLIMIT_CPU of the child (SIGXCPU, then SIGKILL one second later)
  double wall_seconds = 60;    // the parent waits this long for an answer, then SIGKILLs the child
  size_t memory_bytes = 0;     // address space the child may add to what it inherits (RLIMIT_AS); 0 = no limit.
                               // Not applied under AddressSanitizer (its shadow memory needs terabytes of it)
};

// What the child may deliberately do wrong before its work, so tests can check each way of failing.
// Only C++ code can ask for one (it is a parameter of run(), never read from input or the environment).
enum class TestFault { none, segfault, spin, sleep, allocate };

enum class Outcome {
  ok,            // work() returned; `text` is what it returned
  error,         // work() threw unroll::Error (or a subclass): `error_type` and `text` (its message)
  crashed,       // the child died by `signal` (not one of the limits below)
  cpu_limit,     // the child used its CPU time (SIGXCPU / SIGKILL by RLIMIT_CPU)
  memory_limit,  // an allocation failed under the memory limit (std::bad_alloc in the child)
  timed_out,     // no answer within wall_seconds: the child was killed
  bad_exit,      // the child exited without an answer (status `exit_status`), e.g. a sanitizer report
  not_started,   // pipe() or fork() failed (errno text in `text`)
};

// Which unroll::Error subclass the child threw, so the caller can rethrow the same type.
enum class ErrorType : char { io = 'I', data = 'D', usage = 'U', shape = 'S', dtype = 'T', numeric = 'N', other = 'E',
                             internal = 'X' /* not an unroll::Error: rethrown as std::runtime_error (a bug) */ };

struct Result {
  Outcome outcome = Outcome::not_started;
  std::string text;
  ErrorType error_type = ErrorType::other;
  int signal = 0;
  int exit_status = 0;
};

// Forks (with no HDF5 call in flight in any thread: h5::fork_between_hdf5_calls), runs work() in the child
// under `limits` and waits for it. work() must not start threads, use OpenMP or oneDNN, or write files.
Result run(const std::function<std::string()>& work, const Limits& limits, TestFault fault = TestFault::none);

// Rethrows an Outcome::error result as the unroll::Error subclass the child threw, with its message.
[[noreturn]] void rethrow(const Result& result);

// "SIGSEGV", "SIGXCPU", ... ("signal 42" when unnamed).
std::string signal_name(int signal);

}  // namespace unroll::sandbox

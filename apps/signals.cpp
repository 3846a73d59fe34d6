// SPDX-License-Identifier: Apache-2.0
// What lives here: the stop handlers of apps/signals.h.
#include "apps/signals.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

namespace unroll::cli {

namespace {
// The only global: what the signal handler may touch (a lock-free sig_atomic_t; Note [Stopping]).
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }
}  // namespace

void ignore_pipe_and_file_size_signals() {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
}

bool stdout_failed() { return !std::cout.good(); }

bool stdout_reader_gone() {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return false;
  pollfd p{STDOUT_FILENO, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

void request_stop(int sig) { g_stop_signal = sig; }

void install_stop_handlers() {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // SIGHUP (the terminal went away) stops like SIGTERM, unless it is ignored (`nohup unroll train ...`).
  struct sigaction hup {};
  if (sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, nullptr);
}

void restore_default_stop_handlers() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  struct sigaction hup {};
  if (sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler == on_stop_signal) std::signal(SIGHUP, SIG_DFL);
}

int stop_signal() { return static_cast<int>(g_stop_signal); }
const volatile std::sig_atomic_t* stop_flag() { return &g_stop_signal; }
const char* stop_signal_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGPIPE ? "SIGPIPE" : sig == SIGHUP ? "SIGHUP" : "SIGINT";
}

}  // namespace unroll::cli

// SPDX-License-Identifier: Apache-2.0
// What lives here: SIGINT/SIGTERM/SIGHUP handling for long-running commands (Note [Stopping] in train/trainer.h).
// The handler only records the signal in a lock-free sig_atomic_t; the command polls it (the trainer via
// TrainerHooks::stop_flag) and stops at a safe point with exit code 128 + signal. Also the process-wide
// choice to ignore SIGPIPE and SIGXFSZ, so a closed standard output and a file size limit become write
// errors (EPIPE, EFBIG) that the commands report in one line instead of silent deaths.
#pragma once
#include <csignal>

namespace unroll::cli {

// Ignores SIGPIPE and SIGXFSZ for the whole process (called once by run_main).
void ignore_pipe_and_file_size_signals();
// True when standard output failed: std::cout is bad (a write failed, e.g. EPIPE after the reader left).
bool stdout_failed();
// True when standard output is a pipe or socket whose reading end is closed.
bool stdout_reader_gone();

// Records `sig` as if it had arrived (the trainer then stops at its next safe point); used for SIGPIPE
// when a write to standard output failed.
void request_stop(int sig);

// Clears the recorded signal and installs the recording handler for SIGINT, SIGTERM and (unless it is
// ignored, as under nohup) SIGHUP.
void install_stop_handlers();
// Puts back the default action (terminate) for SIGINT, SIGTERM and SIGHUP (when we had installed it).
void restore_default_stop_handlers();
// The recorded signal (0 = none yet) and the flag to hand to TrainerHooks::stop_flag.
int stop_signal();
const volatile std::sig_atomic_t* stop_flag();
// "SIGTERM", "SIGPIPE", "SIGHUP" for those, else "SIGINT".
const char* stop_signal_name(int sig);

}  // namespace unroll::cli

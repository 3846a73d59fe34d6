// What lives here: SIGINT/SIGTERM handling for long-running commands (Note [Stopping] in train/trainer.h).
// The handler only records the signal in a lock-free sig_atomic_t; the command polls it (the trainer via
// TrainerHooks::stop_flag) and stops at a safe point with exit code 128 + signal.
#pragma once
#include <csignal>

namespace unroll::cli {

// Clears the recorded signal and installs the recording handler for SIGINT and SIGTERM.
void install_stop_handlers();
// Puts back the default action (terminate) for SIGINT and SIGTERM.
void restore_default_stop_handlers();
// The recorded signal (0 = none yet) and the flag to hand to TrainerHooks::stop_flag.
int stop_signal();
const volatile std::sig_atomic_t* stop_flag();
// "SIGTERM" for SIGTERM, else "SIGINT".
const char* stop_signal_name(int sig);

}  // namespace unroll::cli

// SPDX-License-Identifier: Apache-2.0
// What lives here: the seed corpus for fuzz_checkpoint_sandboxed: the same valid checkpoints as
// fuzz_checkpoint's (seed_checkpoint.cpp), whose HDF5 bytes the target mutates.
#include "seed_checkpoint.cpp"

# SPDX-License-Identifier: Apache-2.0
# What lives here: end-to-end test of the sandboxed checkpoint load (Note [Sandboxed load] in
# io/sandbox.cpp): files crafted to crash HDF5 1.10.8 (tests/fixtures/crash_hdf5_*.h5, valid CRCs) given to
# every command that loads a checkpoint exit 2 with one line "...crashed the HDF5 reader...; refused".
source "$(dirname "$0")/lib.sh"

for name in accum_read xfree; do
  cp "$SRC/tests/fixtures/crash_hdf5_$name.h5" "$name.h5"
  expect_exit 2 "$name.h5': the file crashed the HDF5 reader" -- "$UNROLL" inspect "$name.h5"
  expect_exit 2 "crashed the HDF5 reader" -- "$UNROLL" eval --checkpoint "$name.h5"
  expect_exit 2 "crashed the HDF5 reader" -- "$UNROLL" predict --checkpoint "$name.h5" --out p.csv
  expect_exit 2 "crashed the HDF5 reader" -- "$UNROLL" train --resume "$name.h5" --quiet --no-plot
done
echo "untrusted checkpoints: all ok"

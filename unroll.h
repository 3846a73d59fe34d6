// SPDX-License-Identifier: Apache-2.0
// What lives here: the umbrella header. `#include <unroll.h>` gives the whole public API.
#pragma once
#include "autodiff/backward.h"
#include "autodiff/gradcheck.h"
#include "graph/rng.h"
#include "graph/tape.h"
#include "graph/tensor.h"
#include "graph/version.h"
#include "io/checkpoint.h"
#include "ops/ops.h"
#include "models/cell.h"
#include "models/dropout.h"
#include "models/embedding.h"
#include "models/forecaster.h"
#include "models/init.h"
#include "models/recurrent.h"
#include "models/sequence_modes.h"
#include "models/sequential.h"

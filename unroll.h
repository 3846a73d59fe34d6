// What lives here: the umbrella header. `#include <unroll.h>` gives the whole public API.
#pragma once
#include "autodiff/backward.h"
#include "autodiff/gradcheck.h"
#include "graph/rng.h"
#include "graph/tape.h"
#include "graph/tensor.h"
#include "ops/ops.h"

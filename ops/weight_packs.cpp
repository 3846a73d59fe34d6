// SPDX-License-Identifier: Apache-2.0
// What lives here: WeightPacks (Note [Packed weights] in ops/weight_packs.h).
#include "ops/weight_packs.h"

#include "ops/gemm.h"

namespace unroll {

WeightPacks::WeightPacks(Tape& tape) : tape_(tape), epoch_(tape.epoch()), first_(static_cast<NodeId>(tape.size())) {}

const PackedWeights* WeightPacks::find(NodeId w, const GemmShape& shape, const float* data, bool for_backward) {
  if (tape_.epoch() != epoch_) return nullptr;
  const bool shared = w < first_ || tape_.node(w).op == OpKind::parameter;  // one node per parameter and tape
  if (!shared) return nullptr;
  for (const Entry& e : packs_)
    if (e.weight == w && e.packed->shape == shape && e.for_backward == for_backward) return e.packed.get();
  auto packed = std::make_shared<const PackedWeights>(dnnl_context(tape_).pack_weights(shape, data));
  if (for_backward) tape_.keep_alive(packed);
  packs_.push_back({w, std::move(packed), for_backward});
  return packs_.back().packed.get();
}

}  // namespace unroll

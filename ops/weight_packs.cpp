// What lives here: WeightPacksScope (Note [Packed weights] in ops/weight_packs.h).
#include "ops/weight_packs.h"

#include "ops/gemm.h"

namespace unroll {

WeightPacksScope::WeightPacksScope(Tape& tape)
    : tape_(tape), epoch_(tape.epoch()), first_(static_cast<NodeId>(tape.size())), outer_(tape.weight_packs()) {
  tape.set_weight_packs(this);
}

WeightPacksScope::~WeightPacksScope() { tape_.set_weight_packs(outer_); }

const PackedWeights* WeightPacksScope::find(NodeId w, const GemmShape& shape, const float* data) {
  const bool shared = w < first_ || tape_.node(w).op == OpKind::parameter;  // one node per parameter and tape
  if (!shared || tape_.epoch() != epoch_) return nullptr;
  for (const auto& [id, packed] : packs_)
    if (id == w && packed.shape == shape) return &packed;
  packs_.emplace_back(w, dnnl_context(tape_).pack_weights(shape, data));
  return &packs_.back().second;
}

}  // namespace unroll

// What lives here: WeightPacksScope (Note [Packed weights] in ops/weight_packs.h).
#include "ops/weight_packs.h"

#include "ops/gemm.h"

namespace unroll {

WeightPacksScope::WeightPacksScope(Tape& tape)
    : tape_(tape),
      epoch_(tape.epoch()),
      first_(static_cast<NodeId>(tape.size())),
      outer_(tape.weight_packs()),
      in_replay_(tape.replaying()) {
  tape.set_weight_packs(this);
}

WeightPacksScope::~WeightPacksScope() {
  tape_.set_weight_packs(outer_);
  // Opened inside a replay region (a recompute segment's backward), the scope's nodes are dropped with
  // the region, and their backward has run by now: nothing outlives it.
  if (tape_.epoch() != epoch_ || in_replay_) return;
  for (Entry& e : packs_)
    if (e.for_backward) tape_.keep_alive(std::move(e.packed));
}

const PackedWeights* WeightPacksScope::find(NodeId w, const GemmShape& shape, const float* data, bool for_backward) {
  const bool shared = w < first_ || tape_.node(w).op == OpKind::parameter;  // one node per parameter and tape
  if (!shared || tape_.epoch() != epoch_) return nullptr;
  for (const Entry& e : packs_)
    if (e.weight == w && e.packed->shape == shape && e.for_backward == for_backward) return e.packed.get();
  packs_.push_back({w, std::make_shared<const PackedWeights>(dnnl_context(tape_).pack_weights(shape, data)), for_backward});
  return packs_.back().packed.get();
}

}  // namespace unroll

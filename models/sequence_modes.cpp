// SPDX-License-Identifier: Apache-2.0
// What lives here: the sequence-mode helpers (see sequence_modes.h).
#include "models/sequence_modes.h"

#include "ops/ops.h"

namespace unroll {

Var many_to_many_synced(Tape& tape, Recurrent& rnn, Layer& head, Var x, const std::vector<int64_t>& lengths, Rng* rng) {
  const RecurrentOutput r = rnn.forward(tape, x, {}, lengths, rng);
  const int64_t T = r.output.shape()[0], B = r.output.shape()[1];
  const Var y = head.forward(reshape(r.output, Shape{T * B, r.output.shape()[2]}));  // [T*B, O]
  return reshape(y, Shape{T, B, y.shape()[1]});
}

namespace {
// The last layer's hidden state [B, D*H] out of final states [L*D, B, H].
Var last_layer_state(const Recurrent& rnn, Var h_n) {
  const int L = rnn.config().layers, D = rnn.config().directions();
  std::vector<Var> parts;
  for (int d = 0; d < D; ++d) parts.push_back(select(h_n, (L - 1) * D + d));
  return D == 1 ? parts[0] : concat(parts, 1);
}
}  // namespace

Var many_to_one(Tape& tape, Recurrent& rnn, Layer& head, Var x, const std::vector<int64_t>& lengths, Rng* rng) {
  const RecurrentOutput r = rnn.forward(tape, x, {}, lengths, rng);
  return head.forward(last_layer_state(rnn, r.final_states[0]));
}

Var many_to_many_delayed(Tape& tape, Recurrent& encoder, Recurrent& decoder, Layer& head, Var x, Var decoder_inputs,
                         Rng* rng) {
  const RecurrentConfig &e = encoder.config(), &d = decoder.config();
  UNROLL_CHECK(e.layers * e.directions() == d.layers * d.directions() && e.hidden_size == d.hidden_size &&
                   encoder.state_count() == decoder.state_count(),
               UsageError,
               "many_to_many_delayed: encoder ({} x{} layers*directions, hidden {}, {} state kinds) and decoder ({} "
               "x{}, hidden {}, {} state kinds) do not match (hint: the encoder's final states start the decoder)",
               e.cell, e.layers * e.directions(), e.hidden_size, encoder.state_count(), d.cell,
               d.layers * d.directions(), d.hidden_size, decoder.state_count());
  const RecurrentOutput enc = encoder.forward(tape, x, {}, {}, rng);
  const RecurrentOutput dec = decoder.forward(tape, decoder_inputs, enc.final_states, {}, rng);
  const int64_t T = dec.output.shape()[0], B = dec.output.shape()[1];
  const Var y = head.forward(reshape(dec.output, Shape{T * B, dec.output.shape()[2]}));  // [T*B, O]
  return reshape(y, Shape{T, B, y.shape()[1]});
}

Var one_to_many(Tape& tape, Recurrent& rnn, Layer& head, Var x0, int steps, const std::vector<Var>& initial_states) {
  UNROLL_CHECK(!rnn.config().bidirectional, UsageError,
               "one_to_many: the model is bidirectional (hint: generation runs forward in time only)");
  UNROLL_CHECK(steps > 0, UsageError, "one_to_many: steps must be positive, got {}", steps);
  UNROLL_CHECK(x0.shape().rank() == 2, ShapeError, "one_to_many: x0 must be [B, I], got {}", x0.shape().str());
  const int64_t B = x0.shape()[0], I = x0.shape()[1];
  std::vector<Var> state = initial_states, outputs;
  Var input = x0;
  for (int t = 0; t < steps; ++t) {
    const RecurrentOutput r = rnn.forward(tape, reshape(input, Shape{1, B, I}), state);
    const Var y = head.forward(r.steps[0]);  // [B, O]
    UNROLL_CHECK(y.shape() == x0.shape(), ShapeError,
                 "one_to_many: the head's output {} must have the input's shape {} to be fed back (hint: head "
                 "output size = input size)",
                 y.shape().str(), x0.shape().str());
    outputs.push_back(reshape(y, Shape{1, B, I}));
    state = r.final_states;
    input = y;
  }
  return outputs.size() == 1 ? outputs[0] : concat(outputs, 0);
}

}  // namespace unroll

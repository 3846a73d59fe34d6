// SPDX-License-Identifier: Apache-2.0
// What lives here: the four sequence modes of the seed lecture as ready-made helpers over a Recurrent
// and a head Layer (e.g. Linear, or Sequential{Linear, Activation("sigmoid")}):
//   many-to-many synced   y_t = head(h_t) at every step                (e.g. forecast at every step)
//   many-to-one           y = head(h at each sequence's own last step)  (classification, regression)
//   many-to-many delayed  encoder reads x, its final states start a decoder: y_t = head(decoder h_t)
//   one-to-many           generation from one input, each output fed back as the next input
#pragma once
#include <vector>

#include "models/layer.h"
#include "models/recurrent.h"

namespace unroll {

// x [T, B, I] -> [T, B, O]; with lengths, rows past a sequence's length are head(0).
Var many_to_many_synced(Tape& tape, Recurrent& rnn, Layer& head, Var x, const std::vector<int64_t>& lengths = {},
                        Rng* rng = nullptr);

// x [T, B, I] -> [B, O] from the last layer's final hidden state (forward direction at each sequence's own
// last element, joined by the reverse direction's state after t = 0 when bidirectional).
Var many_to_one(Tape& tape, Recurrent& rnn, Layer& head, Var x, const std::vector<int64_t>& lengths = {},
                Rng* rng = nullptr);

// Encoder-decoder: x [T_in, B, I] through `encoder`; its final states are the decoder's initial states
// (same layers*directions, hidden size and cell state kinds); decoder_inputs [T_out, B, I_dec] (teacher
// forcing, or e.g. zeros) -> [T_out, B, O].
Var many_to_many_delayed(Tape& tape, Recurrent& encoder, Recurrent& decoder, Layer& head, Var x, Var decoder_inputs,
                         Rng* rng = nullptr);

// Generation: x0 [B, I] is the first input; each step's head output y_t [B, I] (so O must equal I) is the
// next input. Unidirectional rnn. initial_states as in Recurrent::forward. Returns [steps, B, I].
Var one_to_many(Tape& tape, Recurrent& rnn, Layer& head, Var x0, int steps,
                const std::vector<Var>& initial_states = {});

}  // namespace unroll

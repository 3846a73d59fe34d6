// SPDX-License-Identifier: Apache-2.0
// What lives here: OpKind, the one list of every op the tape can record, with its name and arity
// (-1: variadic). Dispatch never switches on it: each op's forward and backward are functions in ops/.
// It exists for messages, dumps and the registry walk that proves every op has a gradient test.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace unroll {

#define UNROLL_OP_LIST(X)                                                                                  \
  X(leaf, 0) X(parameter, 0) X(add, 2) X(sub, 2) X(mul, 2) X(div, 2) X(affine, 1) X(neg, 1) X(exp, 1)      \
  X(log, 1) X(square, 1) X(sqrt, 1) X(tanh, 1) X(sigmoid, 1) X(relu, 1) X(matmul, 2) X(batched_matmul, 2)  \
  X(linear, -1) X(sum, 1) X(mean, 1) X(reshape, 1) X(transpose, 1) X(concat, -1) X(slice, 1)              \
  X(gather_rows, 1) X(softmax, 1) X(log_softmax, 1) X(cross_entropy, 1) X(mse, 2) X(dropout, 1)    \
  X(lstm_cell_state, 2) X(lstm_hidden, 2) X(gru_lbr_update, 3) X(rnn_sequence, -1) X(recompute_segment, -1) \
  X(recurrent_split, -1) X(cell_program_sequence, -1)


enum class OpKind : uint16_t {
#define UNROLL_OP_ENUM(name, arity) name,
  UNROLL_OP_LIST(UNROLL_OP_ENUM)
#undef UNROLL_OP_ENUM
      count
};

struct OpInfo {
  OpKind kind;
  std::string_view name;
  int arity;  // -1: variadic
};

inline constexpr std::array<OpInfo, static_cast<size_t>(OpKind::count)> kOpTable = {{
#define UNROLL_OP_INFO(name, arity) {OpKind::name, #name, arity},
    UNROLL_OP_LIST(UNROLL_OP_INFO)
#undef UNROLL_OP_INFO
}};

constexpr std::string_view op_name(OpKind k) { return kOpTable[static_cast<size_t>(k)].name; }

}  // namespace unroll

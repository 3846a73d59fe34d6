// SPDX-License-Identifier: Apache-2.0
// A consumer of the installed unroll package: differentiates tanh(x . w) and checks the gradient.
#include <unroll.h>

#include <cmath>
#include <cstdio>

int main() {
  using namespace unroll;
  Tape tape;
  Var x = tape.leaf(Tensor::from_values({0.5, -1.0}, {1, 2}, DType::f32), true);
  Var w = tape.leaf(Tensor::from_values({2.0, 1.0}, {1, 2}, DType::f32), true);
  backward(sum(tanh(linear(x, w))));
  const double expected = (1 - std::pow(std::tanh(0.0), 2)) * 2.0;  // x . w = 0
  std::printf("consumer: dx0 = %g (expected %g)\n", x.grad().at(0), expected);
  return std::abs(x.grad().at(0) - expected) < 1e-6 ? 0 : 1;
}

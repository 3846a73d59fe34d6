// SPDX-License-Identifier: Apache-2.0
// What lives here: Tape::to_dot (graph/tape_dot.cpp) on a tiny graph, checked against its whole DOT text,
// with and without the gradients; and a long chain drawn without recursion.
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;

TEST_CASE("to_dot draws a tiny graph: ops, shapes, module paths, gradients") {
  Tape tape;
  Parameter w("w", Tensor::from_values({0.5, -1}, Shape{2}, DType::f64));
  const Var x = tape.constant(Tensor::from_values({1, 2}, Shape{2}, DType::f64));
  {
    const ScopeGuard scope(tape, "cell");
    (void)tanh(x * tape.param(w));
  }
  const std::string forward =
      "digraph \"tape\" {\n"
      "  rankdir=TB;\n"
      "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [color=\"#444444\"];\n"
      "  n0 [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"constant\\n[2]\"];\n"
      "  subgraph \"cluster_1\" {\n"
      "    label=\"cell\";\n"
      "    style=rounded;\n"
      "    color=\"#8888cc\";\n"
      "    n1 [shape=ellipse, label=\"w\\n[2]\"];\n"
      "    n2 [label=\"mul\\n[2]\"];\n"
      "    n3 [label=\"tanh\\n[2]\"];\n"
      "  }\n"
      "  n0 -> n2;\n"
      "  n1 -> n2;\n"
      "  n2 -> n3;\n";
  CHECK(tape.to_dot() == forward + "}\n");
  DotOptions options;
  options.backward = true;
  CHECK(tape.to_dot(options) ==
        forward +
            "  g1 [style=dashed, color=\"#cc4444\", fontcolor=\"#cc4444\", label=\"d w\\n[2]\"];\n"
            "  n1 -> g1 [style=dotted, arrowhead=none, color=\"#cc4444\"];\n"
            "  g2 [style=dashed, color=\"#cc4444\", fontcolor=\"#cc4444\", label=\"d mul\\n[2]\"];\n"
            "  n2 -> g2 [style=dotted, arrowhead=none, color=\"#cc4444\"];\n"
            "  g3 [style=dashed, color=\"#cc4444\", fontcolor=\"#cc4444\", label=\"d tanh\\n[2]\"];\n"
            "  n3 -> g3 [style=dotted, arrowhead=none, color=\"#cc4444\"];\n"
            "  g3 -> g2 [style=dashed, color=\"#cc4444\"];\n"
            "  g2 -> g1 [style=dashed, color=\"#cc4444\"];\n"
            "}\n");
  options.backward = false;
  options.begin = 2;  // a window of nodes: edges from outside it are left out
  options.title = "a \"quoted\" title";
  const std::string window = tape.to_dot(options);
  CHECK(window.rfind("digraph \"a \\\"quoted\\\" title\" {\n", 0) == 0);
  CHECK(window.find("n0") == std::string::npos);
  CHECK(window.find("n2 -> n3;") != std::string::npos);
}

TEST_CASE("to_dot of a 100000-node chain needs no recursion") {
  Tape tape;
  Var v = tape.leaf(Tensor::from_values({0.5}, Shape{1}, DType::f64), true);
  for (int i = 0; i < 100000; ++i) v = tanh(v);
  const std::string dot = tape.to_dot(DotOptions{.backward = true});
  CHECK(dot.find("n99999 -> n100000;") != std::string::npos);
  CHECK(dot.find("g100000 -> g99999") != std::string::npos);
}

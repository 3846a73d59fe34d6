// SPDX-License-Identifier: Apache-2.0
// What lives here: Tape::to_dot, the recorded graph as Graphviz DOT text (`unroll graph` renders it):
// one box per node with its op, shape and module path, grouped in a cluster per module path; parameters
// are named ellipses, constants grey. With backward, each node that receives a gradient gets a dashed
// twin "d op" and the gradient's flow (output -> inputs) is drawn between the twins. Two flat loops over
// the nodes: no recursion, whatever the graph's depth.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "graph/tape.h"

namespace unroll {

namespace {

// A DOT string literal's contents: quotes and backslashes escaped, control bytes dropped.
std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

}  // namespace

std::string Tape::to_dot(const DotOptions& options) const {
  const NodeId end = static_cast<NodeId>(std::min<size_t>(options.end, nodes_.size()));
  const NodeId begin = std::min(options.begin, end);
  std::string out = fmt::format("digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", "
                                "fontsize=10];\n  edge [color=\"#444444\"];\n",
                                escaped(options.title));
  const auto in_range = [&](NodeId id) { return id >= begin && id < end; };
  std::map<std::string, std::string> clusters;  // module path -> its nodes' lines ("" first: no path)
  for (NodeId id = begin; id < end; ++id) {
    const Node& n = nodes_[id];
    const std::string shape = n.value.defined() ? n.value.shape().str() : "[]";
    std::string line;
    if (n.param != nullptr) {
      line = fmt::format("n{} [shape=ellipse, label=\"{}\\n{}\"];\n", id, escaped(n.param->name), shape);
    } else if (n.op == OpKind::leaf) {
      line = fmt::format("n{} [shape=ellipse, {}label=\"{}\\n{}\"];\n", id,
                         n.requires_grad ? "" : "style=filled, fillcolor=\"#eeeeee\", ",
                         n.requires_grad ? "input" : "constant", shape);
    } else {
      line = fmt::format("n{} [label=\"{}\\n{}\"];\n", id, op_name(n.op), shape);
    }
    const std::string path = scope_name(n.scope);
    clusters[path] += (path.empty() ? "  " : "    ") + line;
  }
  int cluster = 0;
  for (const auto& [path, lines] : clusters) {
    if (path.empty()) {
      out += lines;
      continue;
    }
    out += fmt::format("  subgraph \"cluster_{}\" {{\n    label=\"{}\";\n    style=rounded;\n    color=\"#8888cc\";\n{}  }}\n",
                       ++cluster, escaped(path), lines);
  }
  for (NodeId id = begin; id < end; ++id) {
    const Node& n = nodes_[id];
    for (int i = 0; i < n.n_inputs; ++i) {
      const NodeId from = input_id(n, i);
      if (in_range(from)) out += fmt::format("  n{} -> n{};\n", from, id);
    }
  }
  if (options.backward) {
    // The gradient of node id reaches each input that requires one, through id's backward.
    for (NodeId id = begin; id < end; ++id) {
      const Node& n = nodes_[id];
      if (!n.requires_grad) continue;
      const std::string what = n.param != nullptr ? n.param->name : std::string(op_name(n.op));
      out += fmt::format("  g{} [style=dashed, color=\"#cc4444\", fontcolor=\"#cc4444\", label=\"d {}\\n{}\"];\n",
                         id, escaped(what), n.value.defined() ? n.value.shape().str() : "[]");
      out += fmt::format("  n{} -> g{} [style=dotted, arrowhead=none, color=\"#cc4444\"];\n", id, id);
    }
    for (NodeId id = end; id-- > begin;) {  // in backward's order: from the output back
      const Node& n = nodes_[id];
      if (!n.requires_grad || n.backward == nullptr) continue;
      for (int i = 0; i < n.n_inputs; ++i) {
        const NodeId to = input_id(n, i);
        if (in_range(to) && nodes_[to].requires_grad)
          out += fmt::format("  g{} -> g{} [style=dashed, color=\"#cc4444\"];\n", id, to);
      }
    }
  }
  out += "}\n";
  return out;
}

}  // namespace unroll

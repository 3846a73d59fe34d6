// SPDX-License-Identifier: Apache-2.0
// What lives here: Module registration and path-walking (explicit stack, no recursion).
#include "models/module.h"

#include "graph/check.h"

namespace unroll {

void Module::check_name(const std::string& name) {
  UNROLL_CHECK(!name.empty() && name.find('/') == std::string::npos, UsageError,
               "module: name '{}' must be non-empty and contain no '/' (hint: register a child module instead)", name);
}

Parameter& Module::register_parameter(const std::string& name, Tensor value) {
  check_name(name);
  for (const auto& [existing, p] : params_)
    UNROLL_CHECK(existing != name, UsageError, "module: parameter '{}' is registered twice", name);
  params_.emplace_back(name, std::make_unique<Parameter>(name, std::move(value)));
  return *params_.back().second;
}

void Module::add_child(const std::string& name, std::unique_ptr<Module> child) {
  check_name(name);
  for (const auto& [existing, c] : children_)
    UNROLL_CHECK(existing != name, UsageError, "module: child module '{}' is registered twice", name);
  children_.emplace_back(name, std::move(child));
}

std::vector<std::pair<std::string, Parameter*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Parameter*>> out;
  // Depth-first in registration order: a stack of (module, path prefix), children pushed in reverse.
  std::vector<std::pair<Module*, std::string>> stack{{this, ""}};
  while (!stack.empty()) {
    auto [module, prefix] = stack.back();
    stack.pop_back();
    for (auto& [name, p] : module->params_) {
      p->name = prefix + name;  // the parameter's name is its full path from this root
      out.emplace_back(p->name, p.get());
    }
    for (auto it = module->children_.rbegin(); it != module->children_.rend(); ++it)
      stack.emplace_back(it->second.get(), prefix + it->first + "/");
  }
  return out;
}

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> out;
  for (auto& [path, p] : named_parameters()) out.push_back(p);
  return out;
}

Parameter* Module::find_parameter(const std::string& path) {
  for (auto& [name, p] : named_parameters())
    if (name == path) return p;
  return nullptr;
}

int64_t Module::parameter_count() {
  int64_t n = 0;
  for (Parameter* p : parameters()) n += p->value.numel();
  return n;
}

void Module::zero_grad() {
  for (Parameter* p : parameters()) p->zero_grad();
}

void Module::to(DType dtype) {
  for (Parameter* p : parameters()) {
    if (p->value.dtype() == dtype) continue;
    p->value = p->value.to(dtype);
    p->grad = Tensor::zeros(p->value.shape(), dtype);
  }
}

void Module::train(bool on) {
  std::vector<Module*> stack{this};
  while (!stack.empty()) {
    Module* m = stack.back();
    stack.pop_back();
    m->training_ = on;
    for (auto& [name, child] : m->children_) stack.push_back(child.get());
  }
}

}  // namespace unroll

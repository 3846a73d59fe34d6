// SPDX-License-Identifier: Apache-2.0
// What lives here: Module, the base of every model part. A module owns named Parameters and refers to
// named child modules; their slash-joined paths ("encoder/l0/w_ih") are stable, are what optimizers key
// their state by, and are the checkpoint's layout (/params/<path>).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/tape.h"

namespace unroll {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter below this module with its path, in registration order (depth-first, explicit stack).
  std::vector<std::pair<std::string, Parameter*>> named_parameters();
  std::vector<Parameter*> parameters();
  Parameter* find_parameter(const std::string& path);  // nullptr when absent
  int64_t parameter_count();
  void zero_grad();
  // Converts every parameter (value and grad) below this module to dtype; e.g. to(DType::f64) for a
  // float64 gradient check. Parameter objects stay the same, so Parameter* handles remain valid.
  void to(DType dtype);

  void train(bool on = true);  // sets the mode here and in every child
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  // Registration: the name is one path component (no '/'). Parameters are owned by the module.
  Parameter& register_parameter(const std::string& name, Tensor value);
  template <class M>
  M& register_module(const std::string& name, std::unique_ptr<M> child) {
    M& ref = *child;
    add_child(name, std::move(child));
    return ref;
  }

 private:
  void add_child(const std::string& name, std::unique_ptr<Module> child);
  static void check_name(const std::string& name);

  std::vector<std::pair<std::string, std::unique_ptr<Parameter>>> params_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace unroll

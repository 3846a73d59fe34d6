// SPDX-License-Identifier: Apache-2.0
// What lives here: a minimal read-only HDF5 reader for the PyTorch reference fixtures (tests/fixtures),
// written on the HDF5 C API: float64 datasets as Tensors, int64 datasets, scalar root attributes, and
// the list of datasets below a group (explicit stack, no recursion). Errors throw IoError naming the file
// and the object. io/ may absorb it; tests only.
#pragma once
#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

#include "graph/check.h"
#include "graph/tensor.h"

namespace unroll::testing {

class H5Fixture {
 public:
  explicit H5Fixture(std::string path) : path_(std::move(path)) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions below, not stderr noise
    file_ = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    UNROLL_CHECK(file_ >= 0, IoError, "fixture {}: cannot open (hint: run from a checkout with tests/fixtures)", path_);
  }
  ~H5Fixture() { H5Fclose(file_); }
  H5Fixture(const H5Fixture&) = delete;
  H5Fixture& operator=(const H5Fixture&) = delete;

  const std::string& path() const { return path_; }

  bool has(const std::string& object) const {
    // H5Lexists needs every intermediate group to exist: walk the components.
    std::string prefix;
    size_t pos = 1;
    while (pos <= object.size()) {
      const size_t next = object.find('/', pos);
      prefix = object.substr(0, next);
      if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (next == std::string::npos) break;
      pos = next + 1;
    }
    return true;
  }

  // A float dataset (any float type in the file) as a tensor of `dtype`.
  Tensor tensor(const std::string& name, DType dtype = DType::f64) const {
    const hid_t ds = open_dataset(name);
    const std::vector<int64_t> dims = dims_of(ds, name);
    Tensor t = Tensor::empty(Shape::from_range(dims.begin(), dims.end()), DType::f64);
    const herr_t status = t.numel() ? H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()) : 0;
    H5Dclose(ds);
    UNROLL_CHECK(status >= 0, IoError, "fixture {}: cannot read {} as float64", path_, name);
    return dtype == DType::f64 ? t : t.to(dtype);
  }

  std::vector<int64_t> int64s(const std::string& name) const {
    const hid_t ds = open_dataset(name);
    const std::vector<int64_t> dims = dims_of(ds, name);
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::vector<int64_t> out(static_cast<size_t>(n));
    const herr_t status = H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    H5Dclose(ds);
    UNROLL_CHECK(status >= 0, IoError, "fixture {}: cannot read {} as int64", path_, name);
    return out;
  }

  int64_t attr_int(const std::string& name) const {
    const hid_t a = open_attr(name);
    int64_t v = 0;
    const herr_t status = H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    UNROLL_CHECK(status >= 0, IoError, "fixture {}: cannot read attribute {} as int64", path_, name);
    return v;
  }

  std::string attr_string(const std::string& name) const {
    const hid_t a = open_attr(name);
    const hid_t type = H5Aget_type(a);
    const size_t size = H5Tget_size(type);
    std::string s(size, '\0');
    const herr_t status = H5Aread(a, type, s.data());
    H5Tclose(type);
    H5Aclose(a);
    UNROLL_CHECK(status >= 0, IoError, "fixture {}: cannot read attribute {} as a string", path_, name);
    s.resize(s.find('\0') == std::string::npos ? s.size() : s.find('\0'));
    return s;
  }

  // Paths of every dataset below `group` relative to it ("l0/w_ih"), sorted by name per group.
  std::vector<std::string> datasets_under(const std::string& group) const {
    std::vector<std::string> out;
    std::vector<std::string> stack{""};
    while (!stack.empty()) {
      const std::string rel = stack.back();
      stack.pop_back();
      const std::string abs = rel.empty() ? group : group + "/" + rel;
      const hid_t g = H5Gopen2(file_, abs.c_str(), H5P_DEFAULT);
      UNROLL_CHECK(g >= 0, IoError, "fixture {}: no group {}", path_, abs);
      H5G_info_t info;
      H5Gget_info(g, &info);
      for (hsize_t i = 0; i < info.nlinks; ++i) {
        char name[256] = {0};
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        const std::string child = rel.empty() ? name : rel + "/" + name;
        const hid_t obj = H5Oopen(g, name, H5P_DEFAULT);  // portable across HDF5 1.10 and 1.12+
        const bool is_group = obj >= 0 && H5Iget_type(obj) == H5I_GROUP;
        if (obj >= 0) H5Oclose(obj);
        if (is_group) stack.push_back(child);
        else out.push_back(child);
      }
      H5Gclose(g);
    }
    return out;
  }

 private:
  hid_t open_dataset(const std::string& name) const {
    const hid_t ds = has(name) ? H5Dopen2(file_, name.c_str(), H5P_DEFAULT) : -1;
    UNROLL_CHECK(ds >= 0, IoError, "fixture {}: no dataset {}", path_, name);
    return ds;
  }
  hid_t open_attr(const std::string& name) const {
    const hid_t a = H5Aexists(file_, name.c_str()) > 0 ? H5Aopen(file_, name.c_str(), H5P_DEFAULT) : -1;
    UNROLL_CHECK(a >= 0, IoError, "fixture {}: no root attribute {}", path_, name);
    return a;
  }
  std::vector<int64_t> dims_of(hid_t ds, const std::string& name) const {
    const hid_t space = H5Dget_space(ds);
    const int rank = H5Sget_simple_extent_ndims(space);
    UNROLL_CHECK(rank >= 0 && rank <= 4, IoError, "fixture {}: dataset {} has rank {} (at most 4 supported)", path_,
                 name, rank);
    hsize_t d[4] = {0, 0, 0, 0};
    H5Sget_simple_extent_dims(space, d, nullptr);
    H5Sclose(space);
    return std::vector<int64_t>(d, d + rank);
  }

  std::string path_;
  hid_t file_ = -1;
};

}  // namespace unroll::testing

// SPDX-License-Identifier: Apache-2.0
// What lives here: the definitions behind io/hdf5_api.h: the HDF5 lock (and fork under it), the innermost
// HDF5 error as text, and the in-memory element types.
#include "io/hdf5_api.h"

#include <unistd.h>

#include "graph/check.h"

namespace unroll::h5 {

std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

std::string hdf5_reason() {
  std::string reason;
  auto walker = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    auto* out = static_cast<std::string*>(data);
    if (n == 0 && err->desc) *out = err->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walker, &reason);
  // Low-level write errors carry errno text: "... error message = 'File too large', ..." -> keep that.
  const std::string key = "error message = '";
  if (auto at = reason.find(key); at != std::string::npos) {
    const auto end = reason.find('\'', at + key.size());
    if (end != std::string::npos) reason = reason.substr(at + key.size(), end - at - key.size());
  }
  H5Eclear2(H5E_DEFAULT);
  return reason.empty() ? "unknown HDF5 error" : reason;
}

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw IoError(fmt::format("hdf5 '{}': {} failed: {}", file, what, hdf5_reason()));
}

hid_t mem_type_of(ItemType t) {
  switch (t) {
    case ItemType::f32: return H5T_NATIVE_FLOAT;
    case ItemType::f64: return H5T_NATIVE_DOUBLE;
    case ItemType::i64: return H5T_NATIVE_INT64;
    case ItemType::u64: return H5T_NATIVE_UINT64;
    case ItemType::str: return H5T_C_S1;
  }
  return H5T_C_S1;
}

int fork_between_hdf5_calls() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  return ::fork();  // the child's copy of the lock is held by its only thread, which releases it here too
}

}  // namespace unroll::h5

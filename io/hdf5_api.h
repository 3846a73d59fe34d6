// SPDX-License-Identifier: Apache-2.0
// What lives here: the HDF5 C API plumbing shared by io/hdf5.cpp (writing) and io/hdf5_read.cpp (reading),
// internal to io/: the process-wide HDF5 lock, the error-stack silencer, HDF5 failures turned into IoError,
// RAII handles, and the in-memory type of an Item.
#pragma once
#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

#include "io/hdf5.h"

namespace unroll::h5 {

// Note [HDF5 is one global]: Debian's libhdf5 is built without thread safety, and its error stack and
// open-file table are process-wide. Every entry point of io/hdf5*.cpp holds this lock, so checkpoints may be saved
// or loaded from several threads (e.g. a background saver) without corrupting HDF5's state.
std::mutex& hdf5_mutex();

// Silences HDF5's automatic error-stack printing for its lifetime and restores the previous handler.
class ErrorSilencer {
 public:
  ErrorSilencer() {
    H5Eget_auto2(H5E_DEFAULT, &old_fn_, &old_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, old_fn_, old_data_); }
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  H5E_auto2_t old_fn_ = nullptr;
  void* old_data_ = nullptr;
};

// The innermost HDF5 error description ("File too large", "truncated file: eof = ...").
std::string hdf5_reason();

// Throws IoError "hdf5 FILE: WHAT failed: REASON".
[[noreturn]] void fail(const std::string& file, const std::string& what);

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and reports failure (closing a file is where buffered writes can fail).
  herr_t close() {
    herr_t rc = 0;
    if (id_ >= 0 && closer_) rc = closer_(id_);
    id_ = H5I_INVALID_HID;
    return rc;
  }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

inline Handle checked(hid_t id, Handle::Closer closer, const std::string& file, const std::string& what) {
  if (id < 0) fail(file, what);
  return Handle(id, closer);
}

inline void checked(herr_t rc, const std::string& file, const std::string& what) {
  if (rc < 0) fail(file, what);
}

// The native (in-memory) HDF5 type of an item's elements.
hid_t mem_type_of(ItemType t);

}  // namespace unroll::h5

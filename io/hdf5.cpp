// SPDX-License-Identifier: Apache-2.0
// What lives here: the Item writer behind io/hdf5.h: items -> an in-memory HDF5 file image (core driver)
// -> one atomic file write. The reader is io/hdf5_read.cpp, the HDF5 plumbing both use io/hdf5_api.h;
// Item itself and CRC-32 need no HDF5: io/hdf5_items.cpp.
#include "io/hdf5.h"

#include <hdf5.h>

#include <cstring>

#include "graph/check.h"
#include "io/hdf5_api.h"
#include "io/output_files.h"

namespace unroll::h5 {

namespace {

hid_t file_type_of(ItemType t) {
  switch (t) {
    case ItemType::f32: return H5T_IEEE_F32LE;
    case ItemType::f64: return H5T_IEEE_F64LE;
    case ItemType::i64: return H5T_STD_I64LE;
    case ItemType::u64: return H5T_STD_U64LE;
    case ItemType::str: return H5T_C_S1;  // replaced by a variable-length copy
  }
  return H5T_C_S1;
}


// Note [Fixed-length strings]: strings are stored fixed-length (size = bytes + 1, NUL-terminated, UTF-8),
// never variable-length: variable-length data lives in HDF5's global heap, whose reader (H5HG_read) in
// HDF5 1.10 crashes on crafted files (found by fuzzing), so the reader refuses variable-length strings.
Handle fixed_string_type(const std::string& file, size_t size) {
  Handle t = checked(H5Tcopy(H5T_C_S1), H5Tclose, file, "H5Tcopy");
  checked(H5Tset_size(t, size), file, "H5Tset_size");
  checked(H5Tset_cset(t, H5T_CSET_UTF8), file, "H5Tset_cset");
  return t;
}

Handle dataspace_of(const Item& it, const std::string& file) {
  if (it.dims.empty()) return checked(H5Screate(H5S_SCALAR), H5Sclose, file, "H5Screate");
  std::vector<hsize_t> d(it.dims.begin(), it.dims.end());
  return checked(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr), H5Sclose, file, "H5Screate_simple");
}

// Group creation with tracked + indexed link creation order.
Handle group_create_plist(const std::string& file) {
  Handle p = checked(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, file, "H5Pcreate");
  checked(H5Pset_link_creation_order(p, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), file,
          "H5Pset_link_creation_order");
  return p;
}

// Splits "/a/b/c" into {"a", "b", "c"}.
std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void check_path(const std::string& file, const std::string& path) {
  UNROLL_CHECK(!path.empty() && path[0] == '/', IoError, "hdf5 '{}': object path '{}' must start with '/'", file, path);
  for (const auto& c : components(path))
    UNROLL_CHECK(c != "." && c != "..", IoError, "hdf5 '{}': object path '{}' has a '{}' component", file, path, c);
  UNROLL_CHECK(path.find("//") == std::string::npos, IoError, "hdf5 '{}': object path '{}' has an empty component",
               file, path);
}

// Makes sure every group on the way to `path` exists (and `path` itself when `include_last`).
void ensure_groups(hid_t f, const std::string& file, const std::string& path, bool include_last, hid_t gcpl) {
  const auto parts = components(path);
  const size_t n = include_last ? parts.size() : (parts.empty() ? 0 : parts.size() - 1);
  std::string at;
  for (size_t i = 0; i < n; ++i) {
    at += "/" + parts[i];
    const htri_t exists = H5Lexists(f, at.c_str(), H5P_DEFAULT);
    if (exists < 0) fail(file, "checking group " + at);
    if (exists > 0) continue;
    Handle g = checked(H5Gcreate2(f, at.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, file, "creating group " + at);
  }
}

}  // namespace

// ============================================================================================
// Writing
// ============================================================================================

std::string write_image(const std::string& file, const std::vector<Item>& items, size_t userblock) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  ErrorSilencer silence;
  Handle fcpl = checked(H5Pcreate(H5P_FILE_CREATE), H5Pclose, file, "H5Pcreate");
  if (userblock) checked(H5Pset_userblock(fcpl, userblock), file, "H5Pset_userblock");
  checked(H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), file,
          "H5Pset_link_creation_order");
  Handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file, "H5Pcreate");
  checked(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), file, "H5Pset_fclose_degree");
  // In memory only (no backing store): HDF5 never sees a disk error, so no failed HDF5 file can stay
  // open until HDF5's exit handler (which crashed on one that hit ENOSPC).
  // The buffer grows by the payload's size (plus room for HDF5's metadata): one allocation, no regrowth.
  size_t payload = size_t{1} << 16;
  for (const Item& it : items) payload += it.nbytes() + 512;
  checked(H5Pset_fapl_core(fapl, payload, /*backing_store=*/0), file, "H5Pset_fapl_core");
  Handle f = checked(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, fcpl, fapl), H5Fclose, file, "creating the file");
  Handle gcpl = group_create_plist(file);

  for (const Item& it : items) {
    check_path(file, it.path);
    const std::string where = it.key();
    Handle str_type = it.type == ItemType::str ? fixed_string_type(file, it.str.size() + 1) : Handle();
    const hid_t ftype = it.type == ItemType::str ? str_type.get() : file_type_of(it.type);
    const hid_t mtype = it.type == ItemType::str ? str_type.get() : mem_type_of(it.type);
    const void* buf = it.type == ItemType::str ? static_cast<const void*>(it.str.c_str()) : it.bytes();
    int64_t numel = 1;
    for (int64_t d : it.dims) numel *= d;
    UNROLL_CHECK(it.type == ItemType::str ? it.dims.empty()
                                          : static_cast<size_t>(numel) * (it.type == ItemType::f32 ? 4 : 8) == it.nbytes(),
                 IoError, "hdf5 '{}': {} holds {} bytes but its shape {} says otherwise", file, where, it.nbytes(),
                 it.shape_str());
    Handle space = dataspace_of(it, file);
    if (it.is_attribute()) {
      ensure_groups(f, file, it.path, true, gcpl);
      Handle obj = checked(H5Oopen(f, it.path.c_str(), H5P_DEFAULT), H5Oclose, file, "opening " + it.path);
      Handle a = checked(H5Acreate2(obj, it.attr.c_str(), ftype, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, file,
                         "creating attribute " + where);
      checked(H5Awrite(a, mtype, buf), file, "writing attribute " + where);
    } else {
      ensure_groups(f, file, it.path, false, gcpl);
      Handle d = checked(H5Dcreate2(f, it.path.c_str(), ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                         file, "creating dataset " + where);
      if (it.nbytes() > 0 || it.type == ItemType::str)
        checked(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), file, "writing dataset " + where);
    }
  }
  checked(H5Fflush(f, H5F_SCOPE_GLOBAL), file, "flushing the file");
  gcpl.reset();
  const ssize_t size = H5Fget_file_image(f, nullptr, 0);
  if (size < 0) fail(file, "sizing the file image");
  // The image starts after the user block (its addresses count from there): the block is put in front.
  std::string image(userblock + static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(f, image.data() + userblock, static_cast<size_t>(size)) != size)
    fail(file, "copying the file image");
  if (f.close() < 0) fail(file, "closing the file");
  return image;
}

void write_items(const std::string& file, const std::vector<Item>& items, size_t userblock) {
  write_file_atomically(file, write_image(file, items, userblock));
}

}  // namespace unroll::h5

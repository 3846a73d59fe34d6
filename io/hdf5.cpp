// SPDX-License-Identifier: Apache-2.0
// What lives here: the HDF5 C API behind io/hdf5.h: RAII handles, the scoped error-stack silencer,
// HDF5 failures turned into IoError, the Item writer and the Item reader over an in-memory file image
// (explicit-stack walk, no recursion). Item itself and CRC-32 need no HDF5: io/hdf5_items.cpp.
#include "io/hdf5.h"

#include <hdf5.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "graph/check.h"
#include "io/output_files.h"

namespace unroll::h5 {

// ============================================================================================
// RAII handles, the error-stack silencer, HDF5 failures -> IoError
// ============================================================================================

namespace {

// Note [HDF5 is one global]: Debian's libhdf5 is built without thread safety, and its error stack and
// open-file table are process-wide. Every entry point below holds this lock, so checkpoints may be saved
// or loaded from several threads (e.g. a background saver) without corrupting HDF5's state.
std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

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

Handle checked(hid_t id, Handle::Closer closer, const std::string& file, const std::string& what) {
  if (id < 0) fail(file, what);
  return Handle(id, closer);
}

void checked(herr_t rc, const std::string& file, const std::string& what) {
  if (rc < 0) fail(file, what);
}

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

// ============================================================================================
// Reading
// ============================================================================================

namespace {

struct Reader {
  const std::string& name;
  size_t image_size;

  // Element type of a dataset/attribute -> ItemType; throws for anything unroll does not write.
  ItemType classify(hid_t type, const std::string& where) {
    const H5T_class_t cls = H5Tget_class(type);
    const size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT && size == 4) return ItemType::f32;
    if (cls == H5T_FLOAT && size == 8) return ItemType::f64;
    if (cls == H5T_INTEGER && size == 8) return H5Tget_sign(type) == H5T_SGN_NONE ? ItemType::u64 : ItemType::i64;
    if (cls == H5T_STRING) return ItemType::str;
    throw IoError(fmt::format("hdf5 '{}': {} has an HDF5 type (class {}, {} bytes) that unroll does not read (hint: "
                              "unroll stores float32/float64 tensors, 64-bit integers and strings)",
                              name, where, static_cast<int>(cls), size));
  }

  std::vector<int64_t> dims_of(hid_t space, const std::string& where, int64_t* numel) {
    const H5S_class_t cls = H5Sget_simple_extent_type(space);
    UNROLL_CHECK(cls == H5S_SCALAR || cls == H5S_SIMPLE, IoError, "hdf5 '{}': {} has an empty (null) dataspace", name,
                 where);
    const int rank = H5Sget_simple_extent_ndims(space);
    UNROLL_CHECK(rank >= 0 && rank <= 32, IoError, "hdf5 '{}': {} has an invalid rank", name, where);
    std::vector<hsize_t> d(static_cast<size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space, d.data(), nullptr) < 0) fail(name, "reading the shape of " + where);
    std::vector<int64_t> dims;
    uint64_t n = 1;
    for (hsize_t x : d) {
      // Bound every size by the file image: no dataset of an uncompressed file can hold more bytes.
      UNROLL_CHECK(x <= image_size && (x == 0 || n <= image_size / x), IoError,
                   "hdf5 '{}': {} claims more elements than the {}-byte file can hold", name, where, image_size);
      n *= x;
      dims.push_back(static_cast<int64_t>(x));
    }
    *numel = static_cast<int64_t>(n);
    return dims;
  }

  // Reads one dataset (is_attr false) or attribute (true) already opened as `obj`.
  Item read(hid_t obj, bool is_attr, const std::string& path, const std::string& attr) {
    Item it;
    it.path = path;
    it.attr = attr;
    const std::string where = it.key();
    Handle type = checked(is_attr ? H5Aget_type(obj) : H5Dget_type(obj), H5Tclose, name, "reading the type of " + where);
    Handle space =
        checked(is_attr ? H5Aget_space(obj) : H5Dget_space(obj), H5Sclose, name, "reading the shape of " + where);
    it.type = classify(type, where);
    int64_t numel = 0;
    it.dims = dims_of(space, where, &numel);
    const size_t elem = it.type == ItemType::str ? 1 : 4 + 4 * (it.type != ItemType::f32);
    UNROLL_CHECK(static_cast<uint64_t>(numel) * elem <= image_size, IoError,
                 "hdf5 '{}': {} claims {} elements, more than the {}-byte file can hold", name, where, numel, image_size);
    auto read_into = [&](hid_t mtype, void* buf) {
      const herr_t rc = is_attr ? H5Aread(obj, mtype, buf) : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
      if (rc < 0) fail(name, "reading " + where);
    };
    switch (it.type) {
      case ItemType::f32:
      case ItemType::f64: {
        UNROLL_CHECK(it.dims.size() <= static_cast<size_t>(Shape::kMaxRank), IoError,
                     "hdf5 '{}': {} has rank {} but unroll tensors have rank at most {}", name, where, it.dims.size(),
                     Shape::kMaxRank);
        const Shape shape = Shape::from_range(it.dims.begin(), it.dims.end());
        it.tensor = Tensor::empty(shape, it.type == ItemType::f32 ? DType::f32 : DType::f64);
        if (numel > 0) read_into(mem_type_of(it.type), it.tensor.raw());
        break;
      }
      case ItemType::i64:
        it.i64.resize(static_cast<size_t>(numel));
        if (numel > 0) read_into(H5T_NATIVE_INT64, it.i64.data());
        break;
      case ItemType::u64:
        it.u64.resize(static_cast<size_t>(numel));
        if (numel > 0) read_into(H5T_NATIVE_UINT64, it.u64.data());
        break;
      case ItemType::str: {
        UNROLL_CHECK(it.dims.empty(), IoError, "hdf5 '{}': {} is an array of strings of shape {}; unroll reads scalar "
                     "strings only", name, where, it.shape_str());
        const htri_t is_vlen = H5Tis_variable_str(type);
        if (is_vlen < 0) fail(name, "reading the string type of " + where);
        UNROLL_CHECK(is_vlen == 0, IoError, "hdf5 '{}': {} is a variable-length string; unroll reads fixed-length "
                     "strings only (hint: write strings with h5py.string_dtype('utf-8', length=n), see "
                     "docs/checkpoint-format.md)", name, where);
        {
          const size_t size = H5Tget_size(type);
          UNROLL_CHECK(size <= image_size, IoError, "hdf5 '{}': {} claims a {}-byte string", name, where, size);
          Handle mtype = checked(H5Tcopy(H5T_C_S1), H5Tclose, name, "H5Tcopy");
          checked(H5Tset_size(mtype, size + 1), name, "H5Tset_size");
          const H5T_cset_t cset = H5Tget_cset(type);
          UNROLL_CHECK(cset == H5T_CSET_ASCII || cset == H5T_CSET_UTF8, IoError,
                       "hdf5 '{}': {} has an unknown character set", name, where);
          checked(H5Tset_cset(mtype, cset), name, "H5Tset_cset");
          std::string buf(size + 1, '\0');
          read_into(mtype, buf.data());
          it.str = buf.c_str();
        }
        break;
      }
    }
    return it;
  }

  void read_attributes(hid_t obj, const std::string& path, std::vector<Item>& out) {
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) fail(name, "listing the attributes of " + path);
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
      Handle a = checked(H5Aopen_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                         name, "opening an attribute of " + path);
      const ssize_t len = H5Aget_name(a, 0, nullptr);
      if (len < 0) fail(name, "reading an attribute name of " + path);
      std::string attr(static_cast<size_t>(len) + 1, '\0');
      if (H5Aget_name(a, attr.size(), attr.data()) < 0) fail(name, "reading an attribute name of " + path);
      attr.resize(static_cast<size_t>(len));
      UNROLL_CHECK(!attr.empty(), IoError, "hdf5 '{}': {} has an attribute with an empty name", name, path);
      out.push_back(read(a, true, path, attr));
    }
  }
};

std::string join(const std::string& group, const std::string& child) {
  return group == "/" ? "/" + child : group + "/" + child;
}

}  // namespace

int fork_between_hdf5_calls() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  return ::fork();  // the child's copy of the lock is held by its only thread, which releases it here too
}

std::vector<Item> read_items_from_image(const std::string& name, const void* image, size_t size) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  ErrorSilencer silence;
  Handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, name, "H5Pcreate");
  checked(H5Pset_fapl_core(fapl, 1 << 20, false), name, "H5Pset_fapl_core");
  checked(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), name, "H5Pset_fclose_degree");
  checked(H5Pset_file_image(fapl, const_cast<void*>(image), size), name, "H5Pset_file_image");
  // The core driver refuses a name that exists on disk ("file already exists"), so the image gets a name
  // no file has; it is never touched on disk.
  const std::string image_name = "/nonexistent/unroll-memory-image/" + std::to_string(reinterpret_cast<uintptr_t>(image));
  Handle f = checked(H5Fopen(image_name.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, name, "opening the file");

  Reader reader{name, size};
  std::vector<Item> out;
  std::set<haddr_t> seen;  // object addresses already visited (hard-link cycles and aliases)
  constexpr size_t kMaxObjects = 1 << 20;

  // Depth-first walk in creation order with an explicit stack of group paths (children pushed reversed).
  std::vector<std::string> stack{"/"};
  while (!stack.empty()) {
    const std::string group_path = stack.back();
    stack.pop_back();
    Handle g = checked(H5Gopen2(f, group_path.c_str(), H5P_DEFAULT), H5Gclose, name, "opening group " + group_path);
    H5O_info_t ginfo;
    if (H5Oget_info2(g, &ginfo, H5O_INFO_BASIC) < 0) fail(name, "inspecting group " + group_path);
    UNROLL_CHECK(seen.insert(ginfo.addr).second, IoError, "hdf5 '{}': group {} is reachable twice (a hard-link cycle "
                 "or alias); unroll files are trees", name, group_path);
    reader.read_attributes(g, group_path, out);

    Handle gcpl = checked(H5Gget_create_plist(g), H5Pclose, name, "reading the creation properties of " + group_path);
    unsigned order_flags = 0;
    if (H5Pget_link_creation_order(gcpl, &order_flags) < 0) order_flags = 0;
    const H5_index_t index = (order_flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) fail(name, "listing group " + group_path);
    UNROLL_CHECK(info.nlinks <= kMaxObjects, IoError, "hdf5 '{}': group {} has {} links, more than unroll reads", name,
                 group_path, info.nlinks);
    std::vector<std::string> child_groups;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t len = H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len < 0) fail(name, "reading a link name in " + group_path);
      std::string child(static_cast<size_t>(len) + 1, '\0');
      if (H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, i, child.data(), child.size(), H5P_DEFAULT) < 0)
        fail(name, "reading a link name in " + group_path);
      child.resize(static_cast<size_t>(len));
      const std::string path = join(group_path, child);
      UNROLL_CHECK(!child.empty() && child != "." && child != ".." && child.find('/') == std::string::npos, IoError,
                   "hdf5 '{}': group {} has a link with an invalid name '{}'", name, group_path, child);
      H5L_info_t linfo;
      if (H5Lget_info(g, child.c_str(), &linfo, H5P_DEFAULT) < 0) fail(name, "inspecting link " + path);
      UNROLL_CHECK(linfo.type == H5L_TYPE_HARD, IoError, "hdf5 '{}': {} is a soft or external link; unroll files hold "
                   "hard links only", name, path);
      H5O_info_t oinfo;
      if (H5Oget_info_by_name2(g, child.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        fail(name, "inspecting " + path);
      if (oinfo.type == H5O_TYPE_GROUP) {
        child_groups.push_back(path);
      } else if (oinfo.type == H5O_TYPE_DATASET) {
        UNROLL_CHECK(seen.insert(oinfo.addr).second, IoError, "hdf5 '{}': dataset {} is reachable twice (an alias)",
                     name, path);
        Handle d = checked(H5Dopen2(g, child.c_str(), H5P_DEFAULT), H5Dclose, name, "opening dataset " + path);
        out.push_back(reader.read(d, false, path, ""));
        reader.read_attributes(d, path, out);
      } else {
        throw IoError(fmt::format("hdf5 '{}': {} is neither a group nor a dataset", name, path));
      }
      UNROLL_CHECK(out.size() <= kMaxObjects, IoError, "hdf5 '{}': more than {} objects", name, kMaxObjects);
    }
    for (auto it = child_groups.rbegin(); it != child_groups.rend(); ++it) stack.push_back(*it);
  }
  f.close();
  return out;
}

}  // namespace unroll::h5

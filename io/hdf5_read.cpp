// SPDX-License-Identifier: Apache-2.0
// What lives here: the Item reader over an in-memory HDF5 file image (io/hdf5.h read_items_from_image):
// an explicit-stack walk of the groups (no recursion), every size bounded by the image's, and only the
// types unroll writes accepted.
#include <cstring>
#include <set>

#include "graph/check.h"
#include "io/hdf5_api.h"

namespace unroll::h5 {

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

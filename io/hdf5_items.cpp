// SPDX-License-Identifier: Apache-2.0
// What lives here: the parts of io/hdf5.h that need no HDF5 C API: Item (type names, shapes, the bytes
// a checksum covers, constructors), CRC-32 and the HDF5 signature test.
#include "io/hdf5.h"

#include <array>
#include <cstring>

#include "graph/check.h"

namespace unroll::h5 {

// ============================================================================================
// Items
// ============================================================================================

const char* item_type_name(ItemType t) {
  switch (t) {
    case ItemType::f32: return "float32";
    case ItemType::f64: return "float64";
    case ItemType::i64: return "int64";
    case ItemType::u64: return "uint64";
    case ItemType::str: return "string";
  }
  return "?";
}

std::string Item::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s.push_back(',');
    s.append(std::to_string(dims[i]));
  }
  return s + "]";
}

const void* Item::bytes() const {
  switch (type) {
    case ItemType::f32:
    case ItemType::f64: return tensor.raw();
    case ItemType::i64: return i64.data();
    case ItemType::u64: return u64.data();
    case ItemType::str: return str.data();
  }
  return nullptr;
}

size_t Item::nbytes() const {
  switch (type) {
    case ItemType::f32:
    case ItemType::f64: return tensor.nbytes();
    case ItemType::i64: return i64.size() * 8;
    case ItemType::u64: return u64.size() * 8;
    case ItemType::str: return str.size();
  }
  return 0;
}

Item Item::of_tensor(std::string path, Tensor t) {
  Item it;
  it.path = std::move(path);
  it.type = t.dtype() == DType::f32 ? ItemType::f32 : ItemType::f64;
  it.dims.assign(t.shape().begin(), t.shape().end());
  it.tensor = std::move(t);
  return it;
}

Item Item::of_string(std::string path, std::string attr, std::string s) {
  Item it;
  it.path = std::move(path);
  it.attr = std::move(attr);
  it.type = ItemType::str;
  it.str = std::move(s);
  return it;
}

Item Item::of_i64(std::string path, std::string attr, std::vector<int64_t> v, std::vector<int64_t> dims) {
  Item it;
  it.path = std::move(path);
  it.attr = std::move(attr);
  it.type = ItemType::i64;
  it.dims = dims.empty() && v.size() != 1 ? std::vector<int64_t>{static_cast<int64_t>(v.size())} : std::move(dims);
  it.i64 = std::move(v);
  return it;
}

Item Item::of_u64(std::string path, std::string attr, std::vector<uint64_t> v, std::vector<int64_t> dims) {
  Item it;
  it.path = std::move(path);
  it.attr = std::move(attr);
  it.type = ItemType::u64;
  it.dims = dims.empty() && v.size() != 1 ? std::vector<int64_t>{static_cast<int64_t>(v.size())} : std::move(dims);
  it.u64 = std::move(v);
  return it;
}

// ============================================================================================
// CRC-32 (reflected, polynomial 0xEDB88320), slicing by 8
// ============================================================================================

namespace {

struct CrcTables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  CrcTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};

const CrcTables& crc_tables() {
  static const CrcTables tables;  // immutable lookup table, built once; not state
  return tables;
}

}  // namespace

uint32_t crc32(const void* data, size_t n, uint32_t previous) {
  const auto& t = crc_tables().t;
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~previous;
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
        t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

bool has_hdf5_signature(const void* data, size_t n) {
  static constexpr unsigned char kSig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  return n >= 8 && std::memcmp(data, kSig, 8) == 0;
}

}  // namespace unroll::h5

// SPDX-License-Identifier: Apache-2.0
// What lives here: unroll's small window onto HDF5. A file is read and written as a flat list of Items
// (datasets and attributes of tensors, 64-bit integers and UTF-8 strings) so the checkpoint code never
// touches the HDF5 C API; hdf5.cpp keeps every handle in an RAII wrapper, silences HDF5's stderr error
// stack with a scoped guard (no global init), and turns every HDF5 failure into IoError naming the file,
// the object path and the innermost HDF5 reason. The HDF5 headers stay private to hdf5.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/tensor.h"

namespace unroll::h5 {

enum class ItemType : uint8_t { f32, f64, i64, u64, str };
const char* item_type_name(ItemType t);  // "float32", "float64", "int64", "uint64", "string"

// One dataset (attr empty) or one attribute `attr` of the object at `path` ("/" is the root group).
// Dataset paths are absolute ("/params/l0/w_ih"); the groups on the way are created on write.
struct Item {
  std::string path;
  std::string attr;
  ItemType type = ItemType::f32;
  std::vector<int64_t> dims;       // empty = scalar
  Tensor tensor;                   // f32 / f64 (rank <= 4)
  std::vector<int64_t> i64;        // i64
  std::vector<uint64_t> u64;       // u64
  std::string str;                 // str (scalar only)

  bool is_attribute() const { return !attr.empty(); }
  std::string key() const { return attr.empty() ? path : path + "@" + attr; }  // for messages
  std::string shape_str() const;   // "[2048,128]" (no spaces; part of the checksum definition)
  // The bytes the payload checksum covers: little-endian row-major values, or the UTF-8 string.
  const void* bytes() const;
  size_t nbytes() const;

  static Item of_tensor(std::string path, Tensor t);
  static Item of_string(std::string path, std::string attr, std::string s);
  static Item of_i64(std::string path, std::string attr, std::vector<int64_t> v, std::vector<int64_t> dims = {});
  static Item of_u64(std::string path, std::string attr, std::vector<uint64_t> v, std::vector<int64_t> dims = {});
};

// The bytes of an HDF5 file holding the items in order, built in memory (HDF5 never touches the disk);
// groups keep creation order so a reader sees datasets in the order they were written. `userblock` bytes
// (0 or a power of two >= 512) are reserved, zero-filled, at the start. `name` is used in messages only.
// Throws IoError naming `name` and the item.
std::string write_image(const std::string& name, const std::vector<Item>& items, size_t userblock = 0);
// write_image saved atomically to `file` (io/output_files.h).
void write_items(const std::string& file, const std::vector<Item>& items, size_t userblock = 0);

// Reads every dataset and attribute of an HDF5 file image held in memory (no disk access), groups
// in creation order when tracked, else by name. `name` is used in messages only. Hard links only (soft
// and external links are rejected), no cycles, floats of rank <= 4, scalar strings. Throws IoError.
std::vector<Item> read_items_from_image(const std::string& name, const void* image, size_t size);

// CRC-32 (the zlib / PNG polynomial; crc32(data, n, previous) continues a running checksum exactly
// like Python's zlib.crc32(data, previous)).
uint32_t crc32(const void* data, size_t n, uint32_t previous = 0);

// True when the bytes start with the HDF5 signature (at offset 0).
bool has_hdf5_signature(const void* data, size_t n);

// fork() while holding the lock of Note [HDF5 is one global], so no thread is inside HDF5 at that instant
// and the child may call HDF5 (Note [Sandboxed load] in io/sandbox.cpp). Returns what fork() returns;
// the lock is released in both processes.
int fork_between_hdf5_calls();

}  // namespace unroll::h5

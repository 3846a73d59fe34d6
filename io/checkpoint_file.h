// SPDX-License-Identifier: Apache-2.0
// What lives here: what io/checkpoint.cpp (load and validate) and io/checkpoint_save.cpp (the atomic
// save) share about the file: the 512-byte unroll header's magic and layout version, its little-endian
// fields, the "checkpoint '<path>'" message prefix and a POSIX file descriptor closed on scope exit.
// Private to those two files (not part of the API).
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fmt/format.h>
#include <string>

#include "io/checkpoint.h"

namespace unroll::checkpoint_file {

inline constexpr char kMagic[8] = {'U', 'N', 'R', 'O', 'L', 'L', 'C', 'K'};
inline constexpr uint32_t kHeaderLayout = 1;
inline constexpr size_t kHeaderBytes = checkpoint_detail::kHeaderBytes;

inline std::string ctx(const std::string& path) { return fmt::format("checkpoint '{}'", path); }

// ---- little-endian helpers for the header ----
inline void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
inline uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Fills the unroll header (the first kHeaderBytes of the HDF5 user block) of a whole file image of `size`
// bytes (at least kHeaderBytes): magic, layout, the CRC-32 of bytes [kHeaderBytes, size), the size and the
// header's own CRC. Used by save_checkpoint and checkpoint_detail::restamp_header.
void stamp_header(unsigned char* file, size_t size);

// A POSIX file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release_close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace unroll::checkpoint_file

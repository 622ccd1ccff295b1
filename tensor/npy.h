// NumPy .npy files (format 1.0/2.0): the exchange format of `gradstack inspect` and of the
// reference outputs tests compare against. Reads float16/32/64, int32/64, bool (little-endian,
// C or Fortran order); float16 becomes float32 and int32 becomes int64. Writes float32, float64,
// int64 and bool in C order, format 1.0, atomically (temp file, then rename).
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace gradstack {

// Throws gradstack::Error naming the file for a missing/truncated file or an unsupported header.
Tensor load_npy(const std::string& path);
// Parses .npy bytes; `name` is used in error messages.
Tensor parse_npy(const std::string& bytes, const std::string& name);
void save_npy(const std::string& path, const Tensor& t);
std::string npy_bytes(const Tensor& t);

}  // namespace gradstack

// safetensors state dicts: save named tensors to, and read them from, the format of Hugging Face's
// `safetensors` package, byte for byte. Python's safetensors reads what we write and we read its
// files (and so Hugging Face checkpoints). Read next: safetensors.cpp (the format and its checks).
//
// The format: an 8-byte little-endian u64 N, then N bytes of JSON header, then the data region.
//   {"__metadata__": {"format": "pt"},                         (optional, string -> string)
//    "wte.weight": {"dtype": "F32", "shape": [50257, 768], "data_offsets": [0, 154389504]}, ...}
// Offsets are in bytes from the start of the data region, [begin, end); the tensors tile the region
// exactly (no gaps, no overlaps). The header is padded with spaces to a multiple of 8 bytes and
// the data is raw little-endian, C order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes `tensors` to `path` in the order given (header and data), atomically (tensor/io.h: a crash
// never leaves a partial file under `path`). dtypes: float32 -> F32, float64 -> F64, int64 -> I64,
// bool -> BOOL. Any layout is accepted (non-contiguous tensors are written in C order). Throws
// gradstack::Error for a repeated or reserved ("__metadata__") name, a tensor that is undefined or
// not on the CPU, and I/O failures.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// What the header says about one tensor, available without reading its data.
struct TensorInfo {
    std::string file_dtype;  // as written in the file: "F32", "F64", "I64", "BOOL", "F16", "BF16"
    DType dtype;             // what get() returns: F16 and BF16 become float32
    Shape shape;
    uint64_t begin = 0;  // byte offsets in the data region, [begin, end)
    uint64_t end = 0;
};

// A parsed, fully validated safetensors file. The header is checked when the file is opened;
// tensors are made on demand by get(). Cheap to copy (the bytes are shared).
class SafetensorsFile {
public:
    // The path (or the name given to parse_safetensors), used in error messages.
    const std::string& name() const { return name_; }
    // Tensor names in header order (for files we write: the order they were saved in).
    const std::vector<std::string>& keys() const { return keys_; }
    bool contains(const std::string& key) const { return infos_.count(key) > 0; }
    // Throws gradstack::Error naming the file and the key when there is no such tensor.
    const TensorInfo& info(const std::string& key) const;
    // The "__metadata__" map (empty when the file has none).
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // The tensor `key`, on the CPU. F32/F64/I64/BOOL tensors whose bytes are suitably aligned wrap
    // the mapped file without copying (writes to them change only this process's copy of the
    // pages, never the file, but two get() calls of the same key then share memory; clone to
    // separate them). Others are copied; F16 and BF16 are converted to float32 exactly.
    // Throws for an unknown key and for BOOL bytes other than 0 and 1.
    Tensor get(const std::string& key) const;
    // Every tensor, in keys() order.
    NamedTensors tensors() const;

private:
    friend class SafetensorsParser;  // safetensors.cpp: fills and validates these fields
    std::string name_;
    std::vector<std::string> keys_;
    std::map<std::string, TensorInfo> infos_;
    std::map<std::string, std::string> metadata_;
    std::shared_ptr<void> owner_;   // keeps the bytes alive (the mapping or a copy)
    const uint8_t* data_ = nullptr;  // start of the data region
};

// Maps the file at `path` and parses it. Every malformed input throws gradstack::Error naming the
// file and (where there is one) the key, with a hint: a file shorter than 8 bytes, a header length
// beyond the end of the file, a header that is not a JSON object, an entry without a string
// "dtype", an integer "shape" list or a two-integer "data_offsets" list, an unknown dtype, a
// negative or non-integer size, offsets beyond the data or with begin > end, tensors that overlap
// or leave bytes uncovered, a byte count that is not numel * itemsize, a non-string metadata
// value, a key given twice. It never reads outside the file.
SafetensorsFile load_safetensors(const std::string& path);

// The same for bytes in memory (copied); `name` stands for the file in error messages.
SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name);

// Throws gradstack::Error naming the file and the tensor when a floating-point tensor of `file`
// holds NaN or +-Inf: the first such element's index and value and how many there are, then
// `hint` (what the caller's user can do, e.g. the flag that loads such a file anyway). Weights
// like these give NaN logits: loading them silently turned into "Hello!!!!!" and perplexity -nan.
void check_finite(const SafetensorsFile& file, const std::string& hint = "");

// How a file's tensors compare to the names and shapes a model expects (Module::load_state_dict).
struct ShapeMismatch {
    std::string key;
    Shape expected;
    Shape found;
};
struct LoadReport {
    std::vector<std::string> missing;      // expected but not in the file (sorted)
    std::vector<std::string> unexpected;   // in the file but not expected (file order)
    std::vector<ShapeMismatch> mismatched;  // in both, with different shapes (sorted)
    bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
    // One line per problem: "missing: h.0.ln_1.weight", "shape mismatch: wte.weight expected
    // (10, 4), file has (12, 4)", "unexpected: extra".
    std::string describe() const;
};

// Compares `expected` (name -> shape) with the file's keys and shapes. With `strict`, any problem
// throws gradstack::Error naming the file and listing every problem.
LoadReport compare_keys(const std::map<std::string, Shape>& expected, const SafetensorsFile& file,
                        bool strict = false);
// The same with the file's (name -> shape) already in hand, `found`, under the names `expected`
// uses; `name` is the file and `what` says what it is compared with in the message ("the model").
LoadReport compare_shapes(const std::map<std::string, Shape>& expected,
                          const std::map<std::string, Shape>& found, const std::string& name,
                          bool strict = false, const std::string& what = "the model");

}  // namespace gradstack

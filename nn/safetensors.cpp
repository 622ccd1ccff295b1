// safetensors reader and writer. See safetensors.h for the format. The reader trusts nothing: every
// number in the header is checked against the file's real size before a byte of data is touched,
// with the same rules as the reference (Rust) implementation, so a corrupt or hostile file gives a
// gradstack::Error, never a crash. tests/fuzz/fuzz_safetensors.cpp feeds it random bytes.
#include "nn/safetensors.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/kernels/copy.h"

namespace gradstack {

// The format is little-endian; so are x86-64 and the usual ARM configurations, which lets us copy
// (or wrap) the bytes as they are.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kHintTruncated =
    "the file was probably cut short (an interrupted download or copy): fetch or write it again";
constexpr const char* kHintCorrupt =
    "the file is corrupt or was not written by a safetensors writer";

// The dtypes gradstack reads. F16 and BF16 are widened to float32 on load.
struct FileDType {
    const char* name;
    size_t itemsize;
    DType loaded_as;
};
constexpr FileDType kFileDTypes[] = {
    {"F32", 4, DType::f32},  {"F64", 8, DType::f64}, {"I64", 8, DType::i64},
    {"BOOL", 1, DType::b8},  {"F16", 2, DType::f32}, {"BF16", 2, DType::f32},
};

const FileDType* find_file_dtype(const std::string& name) {
    for (const FileDType& d : kFileDTypes) {
        if (name == d.name) return &d;
    }
    return nullptr;
}

const char* file_dtype_of(DType dtype) {
    switch (dtype) {
        case DType::f32: return "F32";
        case DType::f64: return "F64";
        case DType::i64: return "I64";
        case DType::b8: return "BOOL";
    }
    fail("[save_safetensors] unknown dtype {}", static_cast<int>(dtype));
}

// IEEE half: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits; a float holds each exactly.
float half_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in float (it has 24 bits of precision).
        float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    uint32_t bits;
    if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // inf (mantissa 0) or NaN, payload kept
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);  // re-bias the exponent
    }
    return std::bit_cast<float>(bits);
}

// bfloat16 is the top half of a float32, so widening is a shift (subnormals, inf, NaN included).
float bf16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// A non-negative JSON integer, or nullopt for anything else (negative, float, string, ...).
std::optional<uint64_t> as_unsigned(const json& v) {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0) {
        return static_cast<uint64_t>(v.get<int64_t>());
    }
    return std::nullopt;
}

[[noreturn]] void bad_entry(const std::string& name, const std::string& key,
                            const std::string& what) {
    fail("{}: tensor '{}': {}; {}", name, excerpt(key, 200), what, kHintCorrupt);
}

std::string offsets_str(uint64_t begin, uint64_t end) {
    return fmt::format("[{}, {})", begin, end);
}

}  // namespace

// Fills a SafetensorsFile from bytes, checking everything (a friend of SafetensorsFile).
class SafetensorsParser {
public:
    static SafetensorsFile parse(const uint8_t* bytes, size_t size, std::shared_ptr<void> owner,
                                 const std::string& name) {
        SafetensorsFile f;
        f.name_ = name;
        f.owner_ = std::move(owner);

        // 1. The header length, checked against the real size before anything else is read.
        check(size >= 8, "{}: the file has {} bytes, fewer than the 8-byte header length; {}",
              name, size, kHintTruncated);
        uint64_t n = 0;
        std::memcpy(&n, bytes, 8);
        check(n <= size - 8,
              "{}: the header says it is {} bytes long but the file has only {} bytes after the "
              "length field; {}",
              name, n, size - 8, kHintTruncated);
        const char* header = reinterpret_cast<const char*>(bytes) + 8;
        f.data_ = bytes + 8 + n;
        uint64_t data_size = size - 8 - n;

        // 2. The JSON, with the top-level key order kept and repeated keys refused (a plain JSON
        //    parser silently keeps the last one). NULs are refused first: nlohmann's parser
        //    would stop at one and ignore what follows; the reference reader refuses them.
        if (const void* nul = std::memchr(header, 0, n)) {
            fail("{}: the header holds a NUL byte at offset {} of the header; {}", name,
                 static_cast<const char*>(nul) - header, kHintCorrupt);
        }
        std::vector<std::string> order;
        json root = parse_json(header, n, name, order);
        check(root.is_object(), "{}: the header is a JSON {}, not an object; {}", name,
              root.type_name(), kHintCorrupt);

        // 3. Each entry.
        for (const std::string& key : order) {
            const json& value = root.at(key);
            if (key == "__metadata__") {
                f.metadata_ = parse_metadata(value, name);
                continue;
            }
            f.infos_.emplace(key, parse_entry(value, name, key, data_size));
            f.keys_.push_back(key);
        }

        // 4. The tensors must tile the data region: sorted by offset, each begins where the
        //    previous one ended, and the last ends at the end of the file.
        std::vector<std::pair<const TensorInfo*, const std::string*>> by_offset;
        for (const std::string& key : f.keys_) by_offset.emplace_back(&f.infos_.at(key), &key);
        std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
            return std::pair(a.first->begin, a.first->end) <
                   std::pair(b.first->begin, b.first->end);
        });
        uint64_t position = 0;
        const std::string* previous = nullptr;
        for (const auto& [info, key] : by_offset) {
            check(info->begin >= position,
                  "{}: tensor '{}' at bytes {} overlaps tensor '{}' (which ends at {}); {}", name,
                  *key, offsets_str(info->begin, info->end), previous ? *previous : "", position,
                  kHintCorrupt);
            check(info->begin == position,
                  "{}: bytes {} of the data belong to no tensor (the next one, '{}', starts at "
                  "{}); {}",
                  name, offsets_str(position, info->begin), excerpt(*key, 200), info->begin,
                  kHintCorrupt);
            position = info->end;
            previous = key;
        }
        check(position == data_size,
              "{}: the data region has {} bytes but the tensors cover only the first {}; {}", name,
              data_size, position, kHintCorrupt);
        return f;
    }

private:
    static json parse_json(const char* text, uint64_t n, const std::string& name,
                           std::vector<std::string>& order) {
        // One set of seen keys per open object; `entry` is the current top-level key, for
        // messages about keys repeated inside an entry.
        std::vector<std::set<std::string>> open;
        std::string entry;
        json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
            if (event == json::parse_event_t::object_start) {
                open.emplace_back();
            } else if (event == json::parse_event_t::object_end) {
                open.pop_back();
            } else if (event == json::parse_event_t::key) {
                const std::string& key = parsed.get_ref<const std::string&>();
                bool fresh = open.back().insert(key).second;
                if (depth == 1) {
                    check(fresh, "{}: tensor '{}' appears twice in the header; {}", name,
                          excerpt(key, 200), kHintCorrupt);
                    order.push_back(key);
                    entry = key;
                } else {
                    check(fresh, "{}: tensor '{}': field '{}' appears twice; {}", name,
                          excerpt(entry, 200), excerpt(key), kHintCorrupt);
                }
            }
            return true;
        };
        // Nesting is bounded first (tensor/json.h): a header of 100,000 '[' is refused here
        // instead of crashing whatever prints or copies it. A real header nests 3 deep.
        check_json_depth({text, n}, name + ": the header", kMaxJsonDepth);
        try {
            return json::parse(text, text + n, callback);
        } catch (const json::exception& e) {
            fail("{}: the header is not valid JSON ({}); {}", name, json_message(e), kHintCorrupt);
        }
    }

    static std::map<std::string, std::string> parse_metadata(const json& value,
                                                             const std::string& name) {
        check(value.is_object(), "{}: '__metadata__' must be an object of strings, got a {}; {}",
              name, value.type_name(), kHintCorrupt);
        std::map<std::string, std::string> metadata;
        for (const auto& [key, v] : value.items()) {
            check(v.is_string(), "{}: '__metadata__' entry '{}' must be a string, got a {}; {}",
                  name, excerpt(key), v.type_name(), kHintCorrupt);
            metadata.emplace(key, v.get<std::string>());
        }
        return metadata;
    }

    static TensorInfo parse_entry(const json& value, const std::string& name,
                                  const std::string& key, uint64_t data_size) {
        auto bad = [&](const std::string& what) { bad_entry(name, key, what); };
        if (!value.is_object()) {
            bad(fmt::format("the entry is a {}, not an object", value.type_name()));
        }
        for (const char* field : {"dtype", "shape", "data_offsets"}) {
            if (!value.contains(field)) bad(fmt::format("the entry has no \"{}\"", field));
        }
        TensorInfo info;

        const json& dtype = value.at("dtype");
        if (!dtype.is_string()) {
            bad(fmt::format("\"dtype\" is a {}, not a string", dtype.type_name()));
        }
        info.file_dtype = dtype.get<std::string>();
        const FileDType* file_dtype = find_file_dtype(info.file_dtype);
        if (file_dtype == nullptr) {
            bad(fmt::format("dtype {} is not supported (gradstack reads F32, F64, I64, BOOL, F16 "
                            "and BF16)",
                            json_excerpt(dtype)));
        }
        info.dtype = file_dtype->loaded_as;

        // numel is accumulated with overflow checks; like the reference reader, a shape whose
        // running product overflows is refused even if a later size is 0.
        const json& shape = value.at("shape");
        if (!shape.is_array()) bad(fmt::format("\"shape\" is a {}, not a list", shape.type_name()));
        uint64_t numel = 1;
        for (const json& s : shape) {
            std::optional<uint64_t> size = as_unsigned(s);
            if (!size) {
                bad(fmt::format("\"shape\" {} holds {}, not a size >= 0", json_excerpt(shape),
                                json_excerpt(s)));
            }
            if (__builtin_mul_overflow(numel, *size, &numel) ||
                numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                bad(fmt::format("\"shape\" {} has more elements than fit in 63 bits",
                                json_excerpt(shape)));
            }
            info.shape.push_back(static_cast<int64_t>(*size));
        }

        const json& offsets = value.at("data_offsets");
        if (!offsets.is_array() || offsets.size() != 2) {
            bad(fmt::format("\"data_offsets\" must be a list [begin, end], got {}",
                            json_excerpt(offsets)));
        }
        std::optional<uint64_t> begin = as_unsigned(offsets[0]), end = as_unsigned(offsets[1]);
        if (!begin || !end) {
            bad(fmt::format("\"data_offsets\" {} must hold two integers >= 0",
                            json_excerpt(offsets)));
        }
        info.begin = *begin;
        info.end = *end;
        if (info.begin > info.end) {
            bad(fmt::format("\"data_offsets\" {} begin after they end", json_excerpt(offsets)));
        }
        if (info.end > data_size) {
            fail("{}: tensor '{}': bytes {} lie beyond the end of the data region ({} bytes); {}",
                 name, excerpt(key, 200), offsets_str(info.begin, info.end), data_size,
                 kHintTruncated);
        }
        uint64_t nbytes = 0;
        if (__builtin_mul_overflow(numel, file_dtype->itemsize, &nbytes) ||
            nbytes != info.end - info.begin) {
            bad(fmt::format("shape {} of {} needs {} x {} bytes but \"data_offsets\" {} hold {}",
                            json_excerpt(shape), info.file_dtype, numel, file_dtype->itemsize,
                            json_excerpt(offsets), info.end - info.begin));
        }
        return info;
    }
};

const TensorInfo& SafetensorsFile::info(const std::string& key) const {
    auto it = infos_.find(key);
    if (it == infos_.end()) {
        std::string some;
        for (size_t i = 0; i < keys_.size() && i < 5; ++i) some += (i ? ", " : "") + keys_[i];
        if (keys_.size() > 5) some += ", ...";
        fail("{}: no tensor named '{}' (the file has {} tensors: {})", name_, excerpt(key, 200),
             keys_.size(), excerpt(some, 300));
    }
    return it->second;
}

Tensor SafetensorsFile::get(const std::string& key) const {
    const TensorInfo& in = info(key);
    const uint8_t* src = data_ + in.begin;
    size_t nbytes = in.end - in.begin;
    int64_t n = numel(in.shape);

    if (in.file_dtype == "F16" || in.file_dtype == "BF16") {
        Tensor t = empty(in.shape, DType::f32);
        float* dst = t.data<float>();
        bool half = in.file_dtype == "F16";
        for (int64_t i = 0; i < n; ++i) {
            uint16_t v;
            std::memcpy(&v, src + 2 * i, 2);  // memcpy: the bytes need not be 2-aligned
            dst[i] = half ? half_to_float(v) : bf16_to_float(v);
        }
        return t;
    }
    if (in.dtype == DType::b8) {
        // A C++ bool holding a byte other than 0 or 1 is undefined behaviour, so refuse them.
        for (size_t i = 0; i < nbytes; ++i) {
            check(src[i] <= 1, "{}: tensor '{}': BOOL element {} is byte {}, not 0 or 1; {}",
                  name_, key, i, src[i], kHintCorrupt);
        }
    }
    if (reinterpret_cast<uintptr_t>(src) % itemsize(in.dtype) == 0) {
        // Wrap the bytes in place; the storage's release keeps the mapping (owner_) alive.
        auto storage = std::make_shared<Storage>(const_cast<uint8_t*>(src), nbytes, Device::cpu(),
                                                 [owner = owner_](void*) {});
        return Tensor(std::make_shared<TensorImpl>(std::move(storage), in.shape,
                                                   contiguous_strides(in.shape), 0, in.dtype));
    }
    // Misaligned (a writer that does not sort tensors by alignment): copy.
    Tensor t = empty(in.shape, in.dtype);
    if (nbytes > 0) std::memcpy(t.raw_data(), src, nbytes);
    return t;
}

NamedTensors SafetensorsFile::tensors() const {
    NamedTensors out;
    for (const std::string& key : keys_) out.emplace_back(key, get(key));
    return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
    auto mapped = std::make_shared<MappedFile>(path);
    const uint8_t* bytes = mapped->data();
    size_t size = mapped->size();
    return SafetensorsParser::parse(bytes, size, std::move(mapped), path);
}

SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name) {
    auto copy = std::make_shared<std::vector<uint8_t>>(bytes.begin(), bytes.end());
    const uint8_t* data = copy->data();
    size_t size = copy->size();
    return SafetensorsParser::parse(data, size, std::move(copy), name);
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
    // The header first: its length must be known before the first byte is written.
    ordered_json header = ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string> seen;
    std::vector<Tensor> data;
    uint64_t offset = 0;
    for (const auto& [key, t] : tensors) {
        check(key != "__metadata__", "[save_safetensors] {}: '__metadata__' is reserved for the "
              "metadata map and cannot name a tensor", path);
        check(seen.insert(key).second, "[save_safetensors] {}: tensor '{}' is given twice", path,
              key);
        check(t.defined(), "[save_safetensors] {}: tensor '{}' is undefined", path, key);
        // On the host and in C order, as the format requires (a GPU tensor is copied back; an
        // empty tensor has no bytes to order).
        const Tensor host = kernels::to_device(t, Device::cpu());
        Tensor c = host.numel() == 0 ? host : kernels::contiguous(host);
        uint64_t nbytes = static_cast<uint64_t>(c.numel()) * itemsize(c.dtype());
        header[key] = {{"dtype", file_dtype_of(c.dtype())},
                       {"shape", c.shape()},
                       {"data_offsets", {offset, offset + nbytes}}};
        offset += nbytes;
        data.push_back(std::move(c));
    }
    std::string text;
    try {
        text = header.dump(-1, ' ', false, ordered_json::error_handler_t::strict);
    } catch (const ordered_json::exception& e) {
        fail("[save_safetensors] {}: a tensor name or metadata string is not valid UTF-8 ({})",
             path, e.what());
    }
    // Pad with spaces to a multiple of 8 as the Python writer does, so the data region (and every
    // 8-byte tensor that follows 8-byte ones) starts aligned.
    text.append((8 - text.size() % 8) % 8, ' ');

    write_file_atomically(path, [&](OutputFile& out) {
        uint64_t n = text.size();
        out.write(&n, 8);  // little-endian (static_assert above)
        out.write(text);
        for (const Tensor& t : data) out.write(t.raw_data(), t.numel() * itemsize(t.dtype()));
    });
}

// --- non-finite values

namespace {

// The index of the first non-finite element of `n` values at `p` (n when none), and their count.
template <class T>
std::pair<int64_t, int64_t> find_nonfinite(const T* p, int64_t n) {
    int64_t first = n, count = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(p[i])) {
            if (count++ == 0) first = i;
        }
    }
    return {first, count};
}

}  // namespace

void check_finite(const SafetensorsFile& file, const std::string& hint) {
    for (const std::string& key : file.keys()) {
        const DType dtype = file.info(key).dtype;
        if (dtype != DType::f32 && dtype != DType::f64) continue;
        const Tensor t = file.get(key);  // contiguous: wraps the file or is a fresh copy
        const auto [first, count] = dtype == DType::f32
                                        ? find_nonfinite(t.data<float>(), t.numel())
                                        : find_nonfinite(t.data<double>(), t.numel());
        if (count == 0) continue;
        const double value = dtype == DType::f32 ? t.data<float>()[first] : t.data<double>()[first];
        fail("{}: tensor '{}' {} holds {} non-finite value(s) (the first, element {}, is {}); the "
             "file is damaged or was saved by a run that diverged{}{}",
             file.name(), excerpt(key, 200), shape_str(t.shape()), count, first, value,
             hint.empty() ? "" : "; ", hint);
    }
}

// --- comparing a file with what a model expects

std::string LoadReport::describe() const {
    std::string s;
    for (const std::string& k : missing) s += fmt::format("missing: {}\n", k);
    for (const std::string& k : unexpected) s += fmt::format("unexpected: {}\n", k);
    for (const ShapeMismatch& m : mismatched) {
        s += fmt::format("shape mismatch: {} expected {}, file has {}\n", m.key,
                         shape_str(m.expected), shape_str(m.found));
    }
    return s;
}

namespace {

void throw_if_bad(const LoadReport& report, const std::string& name, const std::string& what) {
    if (report.ok()) return;
    // At most 60 lines: a file of 10,000 stray tensors should not print 10,000 lines.
    std::string lines = report.describe();
    size_t cut = 0;
    for (int i = 0; i < 60 && cut != std::string::npos; ++i) cut = lines.find('\n', cut + 1);
    if (cut != std::string::npos && cut + 1 < lines.size()) lines = lines.substr(0, cut + 1) + "...\n";
    fail("{}: the tensors do not match {} ({} missing, {} unexpected, {} with another shape); "
         "check that the file belongs to this model and configuration:\n{}",
         name, what, report.missing.size(), report.unexpected.size(), report.mismatched.size(),
         lines);
}

}  // namespace

LoadReport compare_keys(const std::map<std::string, Shape>& expected, const SafetensorsFile& file,
                        bool strict) {
    std::map<std::string, Shape> found;
    for (const std::string& key : file.keys()) found[key] = file.info(key).shape;
    LoadReport report = compare_shapes(expected, found, file.name(), false);
    // File order for the unexpected keys (compare_shapes gives them sorted).
    report.unexpected.clear();
    for (const std::string& key : file.keys()) {
        if (!expected.count(key)) report.unexpected.push_back(key);
    }
    if (strict) throw_if_bad(report, file.name(), "the model");
    return report;
}

LoadReport compare_shapes(const std::map<std::string, Shape>& expected,
                          const std::map<std::string, Shape>& found, const std::string& name,
                          bool strict, const std::string& what) {
    LoadReport report;
    for (const auto& [key, shape] : expected) {
        auto it = found.find(key);
        if (it == found.end()) {
            report.missing.push_back(key);
        } else if (it->second != shape) {
            report.mismatched.push_back({key, shape, it->second});
        }
    }
    for (const auto& [key, shape] : found) {
        if (!expected.count(key)) report.unexpected.push_back(key);
    }
    if (strict) throw_if_bad(report, name, what);
    return report;
}

}  // namespace gradstack

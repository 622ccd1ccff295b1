// .npy reading and writing (see npy.h). The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 10), }
// padded with spaces and a newline so that the data starts at a multiple of 64 bytes.
#include "tensor/npy.h"

#include <cctype>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>

#include "tensor/io.h"
#include "tensor/kernels/copy.h"
#include "tensor/view.h"

namespace gradstack {

namespace {

float half_to_float(uint16_t h) {
    uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400) == 0);
            bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | mant << 13;
    } else {
        bits = sign | (exp - 15 + 127) << 23 | mant << 13;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::string descr_of(DType d) {
    switch (d) {
        case DType::f32: return "<f4";
        case DType::f64: return "<f8";
        case DType::i64: return "<i8";
        case DType::b8: return "|b1";
    }
    return "";
}

// NumPy itself refuses headers longer than this (numpy.lib.format, max_header_size).
constexpr size_t kMaxHeaderBytes = 10000;

// The value of 'key' in the header's dict literal, as written: the text inside '...' for a
// string, inside (...) for a tuple, else the bare word (True, False). A plain scan (no regex:
// std::regex recurses per character and was the slow part of reading a header).
std::optional<std::string> dict_value(const std::string& header, const std::string& key) {
    const size_t at = header.find("'" + key + "'");
    if (at == std::string::npos) return std::nullopt;
    size_t p = at + key.size() + 2;
    while (p < header.size() && header[p] == ' ') ++p;
    if (p >= header.size() || header[p] != ':') return std::nullopt;
    ++p;
    while (p < header.size() && header[p] == ' ') ++p;
    if (p >= header.size()) return std::nullopt;
    const char open = header[p];
    if (open == '\'' || open == '(') {
        const size_t close = header.find(open == '(' ? ')' : '\'', p + 1);
        if (close == std::string::npos) return std::nullopt;
        return header.substr(p + 1, close - p - 1);
    }
    size_t end = p;
    while (end < header.size() && std::isalpha(static_cast<unsigned char>(header[end]))) ++end;
    return header.substr(p, end - p);
}

// One size of the 'shape' tuple: decimal digits only (spaces around), fitting in int64.
int64_t parse_size(const std::string& item, const std::string& name) {
    const size_t first = item.find_first_not_of(' '), last = item.find_last_not_of(' ');
    const std::string digits = item.substr(first, last - first + 1);
    check(!digits.empty() && digits.size() <= 18 &&
              digits.find_first_not_of("0123456789") == std::string::npos,
          "{}: shape entry '{}' is not a size >= 0 below 10^18", name, excerpt(digits));
    return std::stoll(digits);
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& name) {
    check(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0,
          "{}: not a .npy file (missing the \\x93NUMPY magic)", name);
    const int major = static_cast<unsigned char>(bytes[6]);
    size_t header_len, start;
    if (major == 1) {
        header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
        start = 10;
    } else {
        check(major == 2 || major == 3, "{}: unsupported .npy format version {}", name, major);
        check(bytes.size() >= 12, "{}: truncated .npy header", name);
        header_len = 0;
        for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
        start = 12;
    }
    check(header_len <= kMaxHeaderBytes,
          "{}: header of {} bytes, more than the {} NumPy writes or reads; the file is damaged",
          name, header_len, kMaxHeaderBytes);
    check(start + header_len <= bytes.size(), "{}: header of {} bytes runs past the end of the file",
          name, header_len);
    const std::string header = bytes.substr(start, header_len);
    const std::optional<std::string> descr_value = dict_value(header, "descr");
    check(descr_value.has_value(), "{}: header has no 'descr': {}", name, excerpt(header));
    const std::string descr = *descr_value;
    const std::optional<std::string> fortran_value = dict_value(header, "fortran_order");
    check(fortran_value == "True" || fortran_value == "False",
          "{}: header has no 'fortran_order' True or False", name);
    const bool fortran = fortran_value == "True";
    const std::optional<std::string> shape_value = dict_value(header, "shape");
    check(shape_value.has_value(), "{}: header has no 'shape'", name);
    Shape shape;
    std::stringstream ss(*shape_value);
    // The element count is multiplied with overflow checks: (2^32, 2^32, 2) would wrap to 0
    // elements and pass the size check below.
    uint64_t count = 1;
    for (std::string item; std::getline(ss, item, ',');) {
        if (item.find_first_not_of(" ") == std::string::npos) continue;
        const int64_t size = parse_size(item, name);
        check(!__builtin_mul_overflow(count, static_cast<uint64_t>(size), &count) &&
                  count <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
              "{}: shape ({}) has more elements than fit in 63 bits; the file is damaged", name,
              excerpt(*shape_value));
        shape.push_back(size);
    }
    const int64_t n = static_cast<int64_t>(count);
    const char* data = bytes.data() + start + header_len;
    const size_t avail = bytes.size() - start - header_len;
    auto need = [&](size_t item) {
        uint64_t nbytes = 0;
        check(!__builtin_mul_overflow(count, item, &nbytes) && avail >= nbytes,
              "{}: shape {} needs {} x {} bytes of data but the file has {}; it was probably cut "
              "short",
              name, shape_str(shape), count, item, avail);
    };
    // Read in storage order; Fortran order is then the reversed shape, transposed back.
    Shape storage_shape = fortran ? Shape(shape.rbegin(), shape.rend()) : shape;
    Tensor t;
    if (descr == "<f4" || descr == "<f8" || descr == "<i8" || descr == "|b1") {
        DType d = descr == "<f4" ? DType::f32 : descr == "<f8" ? DType::f64 : descr == "<i8" ? DType::i64 : DType::b8;
        need(itemsize(d));
        if (d == DType::b8) {
            // A C++ bool holding a byte other than 0 or 1 is undefined behaviour: refuse them.
            for (int64_t i = 0; i < n; ++i) {
                check(static_cast<unsigned char>(data[i]) <= 1,
                      "{}: bool element {} is byte {}, not 0 or 1; the file is damaged", name, i,
                      static_cast<unsigned char>(data[i]));
            }
        }
        t = empty(storage_shape, d);
        std::memcpy(t.raw_data(), data, static_cast<size_t>(n) * itemsize(d));
    } else if (descr == "<f2") {
        need(2);
        t = empty(storage_shape, DType::f32);
        float* p = t.data<float>();
        for (int64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, data + 2 * i, 2);
            p[i] = half_to_float(h);
        }
    } else if (descr == "<i4") {
        need(4);
        t = empty(storage_shape, DType::i64);
        int64_t* p = t.data<int64_t>();
        for (int64_t i = 0; i < n; ++i) {
            int32_t v;
            std::memcpy(&v, data + 4 * i, 4);
            p[i] = v;
        }
    } else {
        fail("{}: unsupported dtype '{}' (supported: <f2 <f4 <f8 <i4 <i8 |b1, little-endian)", name,
             excerpt(descr));
    }
    if (fortran && t.dim() > 1) {
        std::vector<int64_t> rev(t.dim());
        for (int64_t i = 0; i < t.dim(); ++i) rev[i] = t.dim() - 1 - i;
        t = kernels::clone(views::permute(t, rev));
    }
    return t;
}

Tensor load_npy(const std::string& path) {
    // A regular file only (a FIFO or /dev/zero is refused before anything waits on it); the
    // cap is memory, not the format: an array of 64 GiB is more than gradstack ever exchanges.
    return parse_npy(read_input_file(path, 64 * 1024 * kMiB, "a .npy file"), path);
}

std::string npy_bytes(const Tensor& t) {
    check(t.device().type == DeviceType::cpu, "[save_npy] tensor is on {}", t.device());
    Tensor c = kernels::contiguous(t);
    std::string shape;
    for (int64_t s : c.shape()) shape += std::to_string(s) + ", ";
    if (c.dim() == 1) shape.pop_back();
    else if (!shape.empty()) shape.resize(shape.size() - 2);
    std::string header = "{'descr': '" + descr_of(c.dtype()) + "', 'fortran_order': False, 'shape': (" +
                         shape + "), }";
    size_t total = 10 + header.size() + 1;
    header += std::string((64 - total % 64) % 64, ' ') + "\n";
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    out += header;
    out.append(static_cast<const char*>(c.raw_data()), static_cast<size_t>(c.numel()) * itemsize(c.dtype()));
    return out;
}

void save_npy(const std::string& path, const Tensor& t) {
    std::string bytes = npy_bytes(t);
    write_file_atomically(path, [&](OutputFile& out) { out.write(bytes); });
}

}  // namespace gradstack

// The pack cache (pack_cache.h): a short list of entries under one mutex. A process holds a few
// hundred weights at most, so a linear scan is enough.
#include "tensor/cpu/pack_cache.h"

#include <mutex>
#include <vector>

namespace gradstack::cpu {
namespace {

struct CacheEntry {
    std::weak_ptr<Storage> storage;
    const Storage* address = nullptr;
    uint64_t version = 0;
    PackKind kind{};
    int64_t offset = 0, rows = 0, cols = 0, rs = 0, cs = 0;
    std::shared_ptr<const void> packed;
};

struct PackCache {
    std::mutex mutex;
    std::vector<CacheEntry> entries;
};

PackCache& pack_cache() {
    static PackCache* cache = new PackCache;  // never destroyed: lookups may come at exit
    return *cache;
}

}  // namespace

std::shared_ptr<const void> cached_packing(
    const Tensor& b, PackKind kind,
    const std::function<std::shared_ptr<const void>(const Tensor& b)>& pack) {
    check(b.dim() == 2 && b.dtype() == DType::f32, "[pack cache] packs a 2-d float32 matrix, got {} {}",
          b.dtype(), shape_str(b.shape()));
    const std::shared_ptr<Storage>& storage = b.storage();
    const int64_t rows = b.size(0), cols = b.size(1), rs = b.strides()[0], cs = b.strides()[1];
    PackCache& cache = pack_cache();
    {
        // The lookup, on every call: an entry of this very storage (its address, and still
        // alive: a freed storage's address may be reused) at its present version.
        std::lock_guard<std::mutex> lock(cache.mutex);
        for (const CacheEntry& e : cache.entries)
            if (e.address == storage.get() && e.version == storage->version() && e.kind == kind &&
                e.offset == b.offset() && e.rows == rows && e.cols == cols && e.rs == rs &&
                e.cs == cs && e.storage.lock() == storage)
                return e.packed;
    }
    // Pack outside the lock (a 38M-element head takes a moment).
    std::shared_ptr<const void> packed = pack(b);
    std::lock_guard<std::mutex> lock(cache.mutex);
    // Entries whose storage is gone (a freed weight) or was written since are dropped as a new
    // one comes in.
    std::erase_if(cache.entries, [](const CacheEntry& e) {
        const std::shared_ptr<Storage> s = e.storage.lock();
        return !s || s->version() != e.version;
    });
    cache.entries.push_back({storage, storage.get(), storage->version(), kind, b.offset(), rows,
                             cols, rs, cs, packed});
    return packed;
}

void with_matrix_layout(const Tensor& b,
                        const std::function<void(const float* p, int64_t ld, bool b_nk)>& fn) {
    const int64_t rows = b.size(0), cols = b.size(1), rs = b.strides()[0], cs = b.strides()[1];
    const float* p = b.data<float>();
    if (cs == 1 || cols == 1) return fn(p, rows == 1 ? cols : rs, false);
    if (rs == 1 || rows == 1) return fn(p, cs, true);
    std::vector<float> copy(static_cast<size_t>(rows * cols));
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) copy[i * cols + j] = p[i * rs + j * cs];
    fn(copy.data(), cols, false);
}

}  // namespace gradstack::cpu

// Storage and the per-device allocator table. CPU memory is 64-byte aligned so that AVX-512
// loads of a contiguous tensor start on a cache line.
#include "tensor/storage.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace gradstack {

namespace {

// Large blocks are kept after they are freed and handed out again for the same size. A fresh
// multi-megabyte block from malloc is newly mapped memory whose every page faults on first touch:
// measured on a 2-core machine, a (512, 768) matmul into a fresh output ran at 0.4x the speed of
// the same GEMM into a reused buffer. Training and decoding allocate the same sizes step after
// step, so exact-size reuse (sizes rounded up to 64 KiB) removes nearly all of that cost.
// The cache holds at most max(kMaxCached, 3 x the largest block ever freed) bytes; when a freed
// block would pass that, the blocks that have waited longest go back to the system first. (GPT-2
// 124M's two 154 MB embedding gradients, freed by every zero_grad and needed by the next backward,
// raise the bound to 462 MB and so keep waiting: without that each training step paid the page
// faults and kernel zeroing of fresh memory for them, ~15% of a 124M step in `perf record`. The
// oldest-first eviction keeps a cache filled with sizes no longer asked for, e.g. after a run of
// different prompt lengths, from refusing the sizes in use now.)
constexpr size_t kHeader = 64;                 // keeps the returned pointer 64-byte aligned
constexpr size_t kCacheMin = size_t{1} << 18;  // 256 KiB: smaller blocks are cheap to malloc
constexpr size_t kGranule = size_t{1} << 16;
constexpr size_t kMaxCached = size_t{1} << 27;  // 128 MiB: bounds what the cache adds to peak memory

struct BlockCache {
    std::mutex mutex;
    std::list<std::pair<size_t, void*>> by_age;  // (size, block start), the oldest first
    std::multimap<size_t, std::list<std::pair<size_t, void*>>::iterator> by_size;
    size_t cached = 0;   // bytes waiting
    size_t largest = 0;  // the largest block ever freed into the cache
};

BlockCache& block_cache() {
    static BlockCache* cache = new BlockCache;  // never destroyed: frees may come at exit
    return *cache;
}

void* cpu_allocate(size_t nbytes, int) {
    size_t size = (nbytes + 63) / 64 * 64 + kHeader;
    if (size >= kCacheMin) {
        size = (size + kGranule - 1) / kGranule * kGranule;
        BlockCache& cache = block_cache();
        std::lock_guard<std::mutex> lock(cache.mutex);
        if (auto it = cache.by_size.find(size); it != cache.by_size.end()) {
            char* block = static_cast<char*>(it->second->second);
            cache.by_age.erase(it->second);
            cache.by_size.erase(it);
            cache.cached -= size;
            return block + kHeader;
        }
    }
    char* block = static_cast<char*>(std::aligned_alloc(64, size));
    if (block == nullptr) fail("[cpu allocator] out of memory allocating {} bytes", nbytes);
    *reinterpret_cast<size_t*>(block) = size;  // the header remembers the block's size
    return block + kHeader;
}

void cpu_deallocate(void* p, int) {
    char* block = static_cast<char*>(p) - kHeader;
    const size_t size = *reinterpret_cast<size_t*>(block);
    if (size < kCacheMin) return std::free(block);
    std::vector<void*> evicted;  // freed after the lock is released
    {
        BlockCache& cache = block_cache();
        std::lock_guard<std::mutex> lock(cache.mutex);
        cache.largest = std::max(cache.largest, size);
        const size_t budget = std::max(kMaxCached, 3 * cache.largest);
        while (!cache.by_age.empty() && cache.cached + size > budget) {
            const auto [old_size, old_block] = cache.by_age.front();
            auto range = cache.by_size.equal_range(old_size);
            for (auto it = range.first; it != range.second; ++it)
                if (it->second == cache.by_age.begin()) {
                    cache.by_size.erase(it);
                    break;
                }
            cache.by_age.pop_front();
            cache.cached -= old_size;
            evicted.push_back(old_block);
        }
        cache.by_age.emplace_back(size, block);
        cache.by_size.emplace(size, std::prev(cache.by_age.end()));
        cache.cached += size;
    }
    for (void* b : evicted) std::free(b);
}

Allocator& allocator_slot(DeviceType type) {
    static Allocator table[kNumDeviceTypes] = {{cpu_allocate, cpu_deallocate}, {}};
    return table[static_cast<int>(type)];
}

}  // namespace

bool register_allocator(DeviceType type, Allocator allocator) {
    allocator_slot(type) = allocator;
    return true;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
    Allocator& a = allocator_slot(device.type);
    if (a.allocate == nullptr) check_device(device, "[storage]");  // says why there is none
    check(a.allocate != nullptr, "[storage] no allocator for {}", device);
    data_ = a.allocate(nbytes, device.index);
    void (*deallocate)(void*, int) = a.deallocate;
    const int index = device.index;
    release_ = [deallocate, index](void* p) { deallocate(p, index); };
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> release)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)) {}

Storage::~Storage() {
    if (release_) release_(data_);
}

}  // namespace gradstack

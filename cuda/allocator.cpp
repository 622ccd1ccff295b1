// The caching allocator of allocator.h: a map from pointer to block, and per (device, stream,
// size class) a list of free blocks. One mutex guards both: allocation is a map lookup, cheap next
// to any kernel launch.
#include "cuda/allocator.h"

#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cuda/runtime.h"
#include "tensor/error.h"
#include "tensor/storage.h"

namespace gradstack::cuda {

namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
constexpr size_t kSmallStep = 512;
constexpr size_t kLargeStep = size_t{2} << 20;  // 2 MiB
constexpr int kMaxDevices = 64;

struct Block {
    size_t size = 0;  // the size class
    int device = 0;
    cudaStream_t stream = nullptr;      // the stream it was allocated for
    std::vector<cudaStream_t> used_on;  // other streams (record_stream)
    std::vector<cudaEvent_t> pending;   // events to wait for before reuse
};

using PoolKey = std::tuple<int, cudaStream_t, size_t>;

struct State {
    std::mutex mutex;
    std::unordered_map<void*, Block> live;        // handed out
    std::map<PoolKey, std::vector<void*>> pools;  // free, ready or pending events
    std::unordered_map<void*, Block> cached;      // free blocks' records
    MemoryStats stats[kMaxDevices];
};

State& state() {
    static State* s = new State;  // never destroyed: tensors may be freed at exit
    return *s;
}

std::string bytes(size_t n) {
    const double d = static_cast<double>(n);
    if (n >= (size_t{1} << 30)) return fmt::format("{:.2f} GiB", d / (1 << 30));
    if (n >= (size_t{1} << 20)) return fmt::format("{:.2f} MiB", d / (1 << 20));
    if (n >= 1024) return fmt::format("{:.2f} KiB", d / 1024);
    return fmt::format("{} B", n);
}

// True when every event the block waits for has completed (then they are destroyed).
bool ready(Block& b) {
    for (cudaEvent_t e : b.pending)
        if (cudaEventQuery(e) != cudaSuccess) {
            cudaGetLastError();  // cudaErrorNotReady is not an error to keep
            return false;
        }
    for (cudaEvent_t e : b.pending) cudaEventDestroy(e);
    b.pending.clear();
    return true;
}

// Frees the device's cached blocks (caller holds the mutex). Waits for pending events first.
void free_cached(State& s, int index) {
    DeviceGuard guard(index);
    for (auto it = s.pools.begin(); it != s.pools.end();) {
        if (std::get<0>(it->first) != index) {
            ++it;
            continue;
        }
        for (void* p : it->second) {
            Block& b = s.cached.at(p);
            for (cudaEvent_t e : b.pending) {
                cudaEventSynchronize(e);
                cudaEventDestroy(e);
            }
            cudaFree(p);
            s.stats[index].reserved -= b.size;
            ++s.stats[index].device_frees;
            s.cached.erase(p);
        }
        it = s.pools.erase(it);
    }
}

void* storage_allocate(size_t nbytes, int index) {
    return allocate(nbytes, index, stream(index));
}
void storage_deallocate(void* ptr, int) {
    deallocate(ptr);
}
[[maybe_unused]] const bool registered =
    register_allocator(DeviceType::cuda, {storage_allocate, storage_deallocate});

}  // namespace

size_t size_class(size_t nbytes) {
    if (nbytes == 0) nbytes = 1;  // a 0-element tensor still gets a distinct pointer
    if (nbytes <= kSmallLimit) return (nbytes + kSmallStep - 1) / kSmallStep * kSmallStep;
    return (nbytes + kLargeStep - 1) / kLargeStep * kLargeStep;
}

void* allocate(size_t nbytes, int index, cudaStream_t stream) {
    require_device(index, "[cuda allocator]");
    const size_t size = size_class(nbytes);
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    MemoryStats& st = s.stats[index];
    ++st.allocations;
    // A ready block of this class on this stream.
    if (auto it = s.pools.find({index, stream, size}); it != s.pools.end()) {
        std::vector<void*>& free = it->second;
        for (size_t i = free.size(); i-- > 0;) {
            void* p = free[i];
            Block& b = s.cached.at(p);
            if (!ready(b)) continue;
            free.erase(free.begin() + static_cast<std::ptrdiff_t>(i));
            s.live.emplace(p, std::move(b));
            s.cached.erase(p);
            ++st.cache_hits;
            st.allocated += size;
            st.peak_allocated = std::max(st.peak_allocated, st.allocated);
            return p;
        }
    }
    DeviceGuard guard(index);
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        free_cached(s, index);
        status = cudaMalloc(&p, size);
    }
    if (status != cudaSuccess) {
        cudaGetLastError();
        size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        cudaGetLastError();
        fail(
            "[cuda allocator] out of memory on cuda:{} allocating {} (allocated {}, cached {}, "
            "device free {} of {}): {}",
            index, bytes(nbytes), bytes(st.allocated), bytes(st.reserved - st.allocated),
            bytes(free_bytes), bytes(total), cudaGetErrorString(status));
    }
    ++st.device_mallocs;
    st.reserved += size;
    st.allocated += size;
    st.peak_reserved = std::max(st.peak_reserved, st.reserved);
    st.peak_allocated = std::max(st.peak_allocated, st.allocated);
    s.live.emplace(p, Block{size, index, stream, {}, {}});
    return p;
}

void deallocate(void* ptr) {
    if (ptr == nullptr) return;
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.live.find(ptr);
    check(it != s.live.end(), "[cuda allocator] free of a pointer it did not allocate");
    Block b = std::move(it->second);
    s.live.erase(it);
    s.stats[b.device].allocated -= b.size;
    // Work queued on other streams may still read the block: wait for it before reuse.
    for (cudaStream_t other : b.used_on) {
        cudaEvent_t e = nullptr;
        if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) == cudaSuccess &&
            cudaEventRecord(e, other) == cudaSuccess)
            b.pending.push_back(e);
        else
            cudaGetLastError();
    }
    b.used_on.clear();
    s.pools[{b.device, b.stream, b.size}].push_back(ptr);
    s.cached.emplace(ptr, std::move(b));
}

void record_stream(void* ptr, cudaStream_t stream) {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.live.find(ptr);
    check(it != s.live.end(), "[cuda allocator] record_stream of a pointer it did not allocate");
    if (stream != it->second.stream) it->second.used_on.push_back(stream);
}

MemoryStats memory_stats(int index) {
    check(index >= 0 && index < kMaxDevices, "[cuda allocator] device index {} out of range",
          index);
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    return s.stats[index];
}

void reset_peak_stats(int index) {
    check(index >= 0 && index < kMaxDevices, "[cuda allocator] device index {} out of range",
          index);
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.stats[index].peak_allocated = s.stats[index].allocated;
    s.stats[index].peak_reserved = s.stats[index].reserved;
}

void empty_cache(int index) {
    require_device(index, "[cuda allocator]");
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    free_cached(s, index);
}

}  // namespace gradstack::cuda

// Device memory through a caching allocator, so steady-state training and decoding never call
// cudaMalloc: a freed block goes back to a pool, keyed by (device, stream, size class), and the
// next request of that class on that stream takes it. Work on one stream runs in order, so a
// block freed by the host while kernels that use it are still queued can be handed to the next
// kernel of the same stream at once; a block used on another stream (record_stream) waits for an
// event on that stream before it is reused. Size classes: 512-byte steps up to 1 MiB, 2 MiB steps
// above, so the sizes of one model repeat exactly.
// It is registered as the Storage allocator of DeviceType::cuda (tensor/storage.h).
// Read next: transfer.cpp (host <-> device copies), launch.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace gradstack::cuda {

struct MemoryStats {
    size_t allocated = 0;       // bytes in blocks handed out now (rounded to their size class)
    size_t reserved = 0;        // bytes taken from the device: allocated + cached
    size_t peak_allocated = 0;  // the largest `allocated` since the start or reset_peak_stats
    size_t peak_reserved = 0;
    uint64_t allocations = 0;     // requests served
    uint64_t cache_hits = 0;      // requests served from a pool, without cudaMalloc
    uint64_t device_mallocs = 0;  // cudaMalloc calls
    uint64_t device_frees = 0;    // cudaFree calls (empty_cache, or retrying after out of memory)
};

// A block of at least `nbytes` on cuda:index for `stream`. Out of memory: the cached blocks of the
// device are freed and the request retried once; if it still fails, throws gradstack::Error
// "[cuda allocator] out of memory on cuda:0 allocating 200.00 GiB (allocated 1.20 GiB, cached
// 0 B, device free 138.10 of 139.80 GiB)". Nothing is lost: the process stays usable.
void* allocate(size_t nbytes, int index, cudaStream_t stream);
// Returns a block to its pool (never to the device: empty_cache does that).
void deallocate(void* ptr);
// Marks a block as used on `stream` too: when it is freed, it is reused only after the work
// queued on that stream until now has finished (PyTorch's record_stream).
void record_stream(void* ptr, cudaStream_t stream);

MemoryStats memory_stats(int index);
void reset_peak_stats(int index);
// Frees every cached (unused) block of cuda:index back to the device.
void empty_cache(int index);

// The size class of a request, in bytes (for tests and for the stats above).
size_t size_class(size_t nbytes);

}  // namespace gradstack::cuda

// Storage and the per-device allocator table. CPU memory is 64-byte aligned so that AVX-512
// loads of a contiguous tensor start on a cache line.
#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "tensor/error.h"

namespace gradstack {

namespace {

void* cpu_allocate(size_t nbytes) {
    size_t rounded = (nbytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (p == nullptr) fail("[cpu allocator] out of memory allocating {} bytes", nbytes);
    return p;
}

void cpu_deallocate(void* p) { std::free(p); }

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
    check(a.allocate != nullptr, "[storage] no allocator for {}; was gradstack built with it?",
          device);
    data_ = a.allocate(nbytes);
    void (*deallocate)(void*) = a.deallocate;
    release_ = [deallocate](void* p) { deallocate(p); };
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> release)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)) {}

Storage::~Storage() {
    if (release_) release_(data_);
}

}  // namespace gradstack

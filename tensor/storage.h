// Storage: one reference-counted block of device memory that any number of tensor views share.
// It carries a version counter, bumped by every in-place write, which autograd uses to detect that
// a tensor saved for backward was modified. Allocators are registered per device type, so the CUDA
// backend plugs in its caching allocator without touching this file. Read next: tensor.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "tensor/device.h"

namespace gradstack {

// One device type's memory. `device_index` says which device of that type (cuda:1 is index 1);
// the CPU ignores it.
struct Allocator {
    void* (*allocate)(size_t nbytes, int device_index) = nullptr;
    void (*deallocate)(void* ptr, int device_index) = nullptr;
};

// Installs the allocator for a device type (the CPU one is built in). Returns true so that a
// backend can register from a namespace-scope initialiser.
bool register_allocator(DeviceType type, Allocator allocator);

class Storage {
public:
    // Allocates `nbytes` (uninitialised) on `device` with its registered allocator.
    Storage(size_t nbytes, Device device);
    // Wraps memory owned elsewhere (a memory-mapped file, a foreign buffer); `release` frees it.
    Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> release);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() const { return data_; }
    size_t nbytes() const { return nbytes_; }
    Device device() const { return device_; }

    // Incremented by every in-place write through any view of this storage.
    uint64_t version() const { return version_; }
    void bump_version() { ++version_; }

private:
    void* data_ = nullptr;
    size_t nbytes_ = 0;
    Device device_;
    uint64_t version_ = 0;
    std::function<void(void*)> release_;
};

}  // namespace gradstack

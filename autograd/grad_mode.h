// Whether ops record a graph. Off inside a NoGradGuard (evaluation, optimizer steps) and while a
// backward closure runs. Per thread, like PyTorch's torch.no_grad().
#pragma once

namespace gradstack {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// RAII: disables recording for its lifetime, then restores the previous mode.
class NoGradGuard {
public:
    NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
    ~NoGradGuard() { set_grad_enabled(previous_); }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

}  // namespace gradstack

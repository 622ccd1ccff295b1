// Sequential (see container.h).
#include "nn/layers/container.h"

#include <string>

namespace gradstack::nn {

Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> layers) {
    for (auto& l : layers) push_back(std::move(l));
}

void Sequential::push_back(std::shared_ptr<UnaryModule> layer) {
    layers_.push_back(register_module(std::to_string(layers_.size()), std::move(layer)));
}

Tensor Sequential::forward(const Tensor& x) {
    Tensor h = x;
    for (auto& l : layers_) h = l->forward(h);
    return h;
}

}  // namespace gradstack::nn

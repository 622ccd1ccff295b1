// Loading tests/data/optim_reference.json and rebuilding its parameters, gradients and optimizers.
// Read next: test_optim_parity.cpp.
#include "optim_reference.h"

#include <cstdlib>
#include <fstream>

#include "nn/optim/adam.h"
#include "tests/test_env.h"
#include "nn/optim/sgd.h"

namespace gradstack::test {

const nlohmann::json& optim_reference() {
    static const nlohmann::json reference = [] {
        const std::string path = testing::test_data("optim_reference.json");
        std::ifstream in(path);
        check(in.good(), "{}: cannot open the optimizer reference", path);
        return nlohmann::json::parse(in);
    }();
    return reference;
}

Tensor tensor_from_json(const nlohmann::json& values, const nlohmann::json& shape) {
    return from_vector<float>(values.get<std::vector<float>>(), shape.get<Shape>());
}

std::vector<Tensor> make_params(const nlohmann::json& c) {
    std::vector<Tensor> params;
    for (const auto& p : c["params"]) {
        params.push_back(tensor_from_json(p["init"], p["shape"]));
        params.back().requires_grad_(true);
    }
    return params;
}

std::unique_ptr<nn::Optimizer> make_optimizer(const nlohmann::json& c,
                                              const std::vector<Tensor>& params) {
    std::vector<nn::ParamGroup> groups;
    for (const auto& g : c["groups"]) {
        nn::ParamGroup group{{}, g["lr"].get<double>(), g["weight_decay"].get<double>()};
        for (int j : g["params"]) group.params.push_back(params[j]);
        groups.push_back(group);
    }
    const auto& cfg = c["config"];
    const std::string kind = c["optimizer"];
    if (kind == "sgd") {
        nn::SgdConfig config;
        config.momentum = cfg["momentum"];
        config.dampening = cfg["dampening"];
        config.nesterov = cfg["nesterov"];
        return std::make_unique<nn::Sgd>(groups, config);
    }
    nn::AdamConfig config;
    config.beta1 = cfg["beta1"];
    config.beta2 = cfg["beta2"];
    config.eps = cfg["eps"];
    if (kind == "adam") return std::make_unique<nn::Adam>(groups, config);
    return std::make_unique<nn::AdamW>(groups, config);
}

void set_grads(const nlohmann::json& c, int s, const std::vector<Tensor>& params) {
    for (size_t j = 0; j < params.size(); ++j) {
        const auto& g = c["grads"][s][j];
        Tensor p = params[j];
        if (g.is_null())
            p.zero_grad();
        else
            p.set_grad(tensor_from_json(g, c["params"][j]["shape"]));
    }
}

}  // namespace gradstack::test

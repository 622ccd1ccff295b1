// Memory estimates and the available-memory check (see memory.h). The formulas follow what the
// model allocates (gpt/model.cpp, nn/layers/attention.cpp); they are meant to be within a small
// factor of the peak, so that a request 100x too large is refused and a sensible one is not.
#include "gpt/generation/memory.h"

#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace gradstack::gpt {

namespace {

// A number from the first line of a file ("max" or unreadable: -1).
double read_number_file(const char* path) {
    std::ifstream in(path);
    std::string word;
    if (!(in >> word) || word == "max") return -1;
    try {
        return std::stod(word);
    } catch (const std::exception&) {
        return -1;
    }
}

}  // namespace

MemoryEstimate estimate_generation_memory(const GPT2Config& m, const GenerationConfig& config,
                                          int64_t prompts, int64_t longest_prompt,
                                          int64_t bytes_per_value) {
    const double per_prompt = config.num_beams > 1 ? static_cast<double>(config.num_beams)
                              : config.do_sample   ? static_cast<double>(config.num_return_sequences)
                                                   : 1.0;
    const double R = static_cast<double>(prompts) * per_prompt;
    const double P = static_cast<double>(std::max<int64_t>(longest_prompt, 1));
    const double S = P + static_cast<double>(std::max<int64_t>(config.max_new_tokens, 0));
    const double C = static_cast<double>(m.n_embd), L = static_cast<double>(m.n_layer);
    const double H = static_cast<double>(m.n_head), V = static_cast<double>(m.vocab_size);
    const double I = static_cast<double>(m.inner()), b = static_cast<double>(bytes_per_value);
    MemoryEstimate e;
    e.kv_cache = 2.0 * (2.0 * L * R * S * C * b);
    e.prompt_forward = R * P * V * b + 2.0 * R * H * P * P * b + R * P * (7.0 * C + I) * b;
    e.per_step = 2.0 * R * V * b + R * (7.0 * C + I) * b;
    return e;
}

double estimate_forward_memory(const GPT2Config& m, int64_t B_, int64_t T_, bool backward,
                               int64_t bytes_per_value) {
    const double B = static_cast<double>(B_), T = static_cast<double>(T_);
    const double C = static_cast<double>(m.n_embd), L = static_cast<double>(m.n_layer);
    const double H = static_cast<double>(m.n_head), V = static_cast<double>(m.vocab_size);
    const double I = static_cast<double>(m.inner()), b = static_cast<double>(bytes_per_value);
    const double logits = B * T * V * b;
    const double layer = B * T * (7.0 * C + I) * b + 2.0 * B * H * T * T * b;
    const double kv = 2.0 * L * B * T * C * b;  // the presents every forward returns
    // Without backward one layer's activations live at a time; with it, all of them, plus the
    // logits' softmax and gradient.
    return backward ? 3.0 * logits + L * layer + kv : logits + layer + kv;
}

double available_memory_bytes() {
    double available = -1;
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line))
        if (line.rfind("MemAvailable:", 0) == 0) {
            std::istringstream s(line.substr(13));
            double kb = 0;
            if (s >> kb) available = kb * 1024.0;
            break;
        }
    if (available < 0) {
        const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0) available = static_cast<double>(pages) * page;
    }
    const double limit = read_number_file("/sys/fs/cgroup/memory.max");
    const double used = read_number_file("/sys/fs/cgroup/memory.current");
    if (limit > 0 && used >= 0) {
        const double left = std::max(0.0, limit - used);
        available = available < 0 ? left : std::min(available, left);
    }
    return std::max(available, 0.0);
}

std::string format_bytes(double bytes) {
    if (bytes >= 1e12) return fmt::format("{:.1f} TB", bytes / 1e12);
    if (bytes >= 1e9) return fmt::format("{:.1f} GB", bytes / 1e9);
    if (bytes >= 1e6) return fmt::format("{:.1f} MB", bytes / 1e6);
    return fmt::format("{:.0f} kB", bytes / 1e3);
}

void check_memory(double needed, const std::string& what, const std::string& detail,
                  const std::string& hint) {
    const double available = available_memory_bytes();
    if (available <= 0) return;  // unknown: let the allocator decide
    check(needed <= available,
          "[{}] needs about {} ({}), more than the {} this machine has available (MemAvailable); "
          "{}",
          what, format_bytes(needed), detail, format_bytes(available), hint);
}

void check_generation_memory(const GPT2Config& model, const GenerationConfig& config,
                             const std::vector<std::vector<int64_t>>& prompts,
                             int64_t bytes_per_value) {
    int64_t longest = 1;
    for (const auto& p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
    const int64_t n = static_cast<int64_t>(prompts.size());
    const MemoryEstimate e = estimate_generation_memory(model, config, n, longest, bytes_per_value);
    const int64_t per_prompt = config.num_beams > 1 ? config.num_beams
                               : config.do_sample   ? config.num_return_sequences
                                                    : 1;
    const std::string rows =
        config.num_beams > 1
            ? fmt::format("num_beams {} x {} prompt(s)", config.num_beams, n)
        : config.do_sample
            ? fmt::format("num_return_sequences {} x {} prompt(s)", config.num_return_sequences, n)
            : fmt::format("{} prompt(s)", n);
    check_memory(e.total(), "generate",
                 fmt::format("{} = {} rows of up to {} + {} positions: key/value cache {}, first "
                             "forward {} (its logits: rows x prompt x vocab {}), each step {}",
                             rows, static_cast<double>(n) * static_cast<double>(per_prompt),
                             longest, config.max_new_tokens, format_bytes(e.kv_cache),
                             format_bytes(e.prompt_forward), model.vocab_size,
                             format_bytes(e.per_step)),
                 "lower num_beams or num_return_sequences, give fewer prompts, or lower "
                 "max_new_tokens");
}

}  // namespace gradstack::gpt

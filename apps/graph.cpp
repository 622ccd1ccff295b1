// `gradstack graph`: the autograd graph of one GPT-2 forward (and its loss), drawn as SVG by
// Graphviz's `dot` from autograd::to_dot: every op with its output shape and dtype, the weights
// as boxes, and with --backward the order in which backward() visits the ops. A tiny model keeps
// the picture small (tests/data/tiny_gpt2: 2 blocks). micrograd's draw_dot is the model.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "autograd/dot.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::apps {

namespace {

namespace fs = std::filesystem;

// Runs `dot -Tsvg` on the DOT text and returns the SVG; throws when Graphviz is missing or fails.
std::string render_svg(const std::string& dot_text, const fs::path& scratch) {
    const fs::path in = scratch.string() + ".dot", out = scratch.string() + ".svg";
    std::ofstream(in, std::ios::binary) << dot_text;
    const std::string cmd = fmt::format("dot -Tsvg '{}' -o '{}' 2>&1", in.string(), out.string());
    std::FILE* p = popen(cmd.c_str(), "r");
    check(p != nullptr, "[graph] cannot start Graphviz's dot");
    std::string messages;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) messages += buf;
    const int rc = pclose(p);
    std::error_code ec;
    fs::remove(in, ec);
    std::ifstream svg(out, std::ios::binary);
    std::stringstream s;
    s << svg.rdbuf();
    fs::remove(out, ec);
    check(rc == 0 && !s.str().empty(),
          "[graph] Graphviz's dot failed{}{} (scripts/setup.sh installs the graphviz package)",
          messages.empty() ? "" : ": ", messages.substr(0, 300));
    return s.str();
}

int run_graph(int argc, char** argv) {
    CLI::App app{"Draw the autograd graph of one GPT-2 forward (and its loss) as SVG with "
                 "Graphviz: each op with its output shape and dtype, the weights as boxes"};
    std::string model_dir, ids_text, out;
    bool backward = false, dot_only = false;
    app.add_option("--model", model_dir, "GPT-2 folder (a tiny one keeps the graph readable, "
                                         "e.g. tests/data/tiny_gpt2)")->required();
    app.add_option("--ids", ids_text, "input token ids, e.g. 1,2,3 (2 or more: the graph then "
                                      "ends in the language-model loss)")->required();
    app.add_option("--out", out, "the SVG file to write")->required();
    app.add_flag("--backward", backward, "number each op in the order backward() runs it");
    app.add_flag("--dot", dot_only, "write the Graphviz DOT text instead of SVG (no dot needed)");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;

    const std::vector<int64_t> ids = parse_ids(ids_text, "--ids");
    check(!ids.empty(), "--ids is empty; give token ids, e.g. --ids 1,2,3");
    check(fs::path(out).has_filename(), "--out {}: not a file name", out);
    std::error_code ec;
    check(!fs::is_directory(out, ec), "--out {}: is a folder; name the SVG file to write", out);
    // The file is written next to --out and renamed onto it: an existing device or FIFO would be
    // replaced (as root, /dev/full becomes a regular file), so only a regular file may be there.
    const fs::file_status out_status = fs::status(out, ec);
    check(!fs::exists(out_status) || fs::is_regular_file(out_status),
          "--out {}: exists and is not a regular file; name a new SVG file", out);
    auto model = gpt::load_pretrained(model_dir);
    model->eval();  // no dropout nodes: the graph of the computation itself
    const int64_t T = static_cast<int64_t>(ids.size());
    check(T <= model->config().n_positions, "--ids has {} tokens, the model's n_positions is {}",
          T, model->config().n_positions);
    for (size_t i = 0; i < ids.size(); ++i)
        check(ids[i] < model->config().vocab_size,
              "--ids: id {} (position {}) is outside the model's vocabulary [0, {})", ids[i], i,
              model->config().vocab_size);
    Tensor x = from_vector(ids, {1, T});
    gpt::ForwardOptions o;
    o.use_cache = false;
    Tensor logits = model->forward(x, o).logits;  // parameters require grad: the graph is recorded
    Tensor root = T >= 2 ? model->loss(logits, x) : logits;
    const std::string dot_text = autograd::to_dot(root, backward);
    const std::string bytes = dot_only ? dot_text : render_svg(dot_text, fs::path(out).string() + ".tmp-graph");
    write_file_atomically(out, [&](OutputFile& f) { f.write(bytes); });
    int64_t ops = 0;
    for (size_t at = dot_text.find("[label="); at != std::string::npos; at = dot_text.find("[label=", at + 1))
        ++ops;
    fmt::print("{}: {} nodes ({}), ending in {}\n", out, ops, dot_only ? "DOT" : "SVG",
               T >= 2 ? "the loss" : "the logits");
    return 0;
}

const bool registered = register_command(
    {"graph", "draw the autograd graph of one GPT-2 forward (Graphviz SVG)", run_graph});

}  // namespace

}  // namespace gradstack::apps

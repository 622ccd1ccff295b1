// `gradstack download NAME [--out DIR]`: fetches a GPT-2 checkpoint (config.json,
// model.safetensors, vocab.json, merges.txt) from the Hugging Face Hub, resuming partial files
// and checking each against the Hub's size and hash. The work is in gpt/hub.h.
#include <CLI/CLI.hpp>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "gpt/hub.h"
#include "tensor/error.h"

namespace gradstack::apps {

namespace {

int run_download(int argc, char** argv) {
    CLI::App app{
        "fetch a GPT-2 checkpoint from the Hugging Face Hub, with resume and a "
        "size/sha256 check ($GRADSTACK_HF_ENDPOINT replaces https://huggingface.co)"};
    std::string name, out;
    app.add_option("name", name, "which GPT-2")
        ->required()
        ->check(CLI::IsMember(gpt::hub_gpt2_models()));
    app.add_option("--out", out,
                   "folder for the files (default: data/models/NAME in the "
                   "repository, " +
                       gpt::default_models_dir().string() + "/NAME)");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;

    const std::filesystem::path dir =
        out.empty() ? gpt::default_models_dir() / name : std::filesystem::path(out);
    std::error_code ec;
    check(!std::filesystem::exists(dir, ec) || std::filesystem::is_directory(dir, ec),
          "[download] --out {}: exists and is not a folder", dir.string());
    gpt::download_model(name, dir);
    fmt::print("{} is in {}; try: gradstack score --model {} --text \"Hello, world\"\n", name,
               dir.string(), dir.string());
    return 0;
}

const bool registered = register_command(
    {"download", "fetch gpt2 / gpt2-medium / gpt2-large / gpt2-xl from the Hugging Face Hub",
     run_download});

}  // namespace

}  // namespace gradstack::apps

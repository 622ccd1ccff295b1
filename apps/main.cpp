// `gradstack`: one binary, one subcommand per file in apps/. This file only finds the subcommand,
// prints the list for --help, takes the global --kernels flag off the command line (so no
// subcommand parses it), and turns a gradstack::Error into a message and exit code 1.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>

#include "apps/command.h"
#include "tensor/dispatch.h"
#include "tensor/error.h"

namespace gradstack::apps {

std::vector<Command>& command_table() {
    static std::vector<Command> table;
    return table;
}

bool register_command(Command command) {
    command_table().push_back(std::move(command));
    return true;
}

const std::vector<Command>& commands() { return command_table(); }

}  // namespace gradstack::apps

namespace {

// The commands that run no tensor kernels, so take no --kernels (it stays theirs to refuse).
constexpr std::array<std::string_view, 3> kNoKernels = {"download", "tokenize", "train-tokenizer"};

bool computes(std::string_view command) {
    return std::find(kNoKernels.begin(), kNoKernels.end(), command) == kNoKernels.end();
}

// Removes `--kernels X` / `--kernels=X` from args (up to a `--`), and chooses that kernel set for
// the process (and for child processes, through GRADSTACK_KERNELS). Otherwise checks the
// GRADSTACK_KERNELS already set, so a bad value fails before any work.
void take_kernels_flag(std::vector<char*>& args) {
    std::string value;
    bool given = false;
    std::vector<char*> kept;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "--") {
            kept.insert(kept.end(), args.begin() + i, args.end());
            break;
        }
        if (a == "--kernels") {
            gradstack::check(i + 1 < args.size(), "--kernels needs a value: reference or fast");
            value = args[++i];
            given = true;
        } else if (a.starts_with("--kernels=")) {
            value = a.substr(std::strlen("--kernels="));
            given = true;
        } else {
            kept.push_back(args[i]);
        }
    }
    args = kept;
    if (!given) {
        gradstack::kernel_set();  // throws naming GRADSTACK_KERNELS for a bad value
        return;
    }
    const gradstack::KernelSet set = gradstack::parse_kernel_set(value, "--kernels");
    gradstack::set_kernel_set(set);
    setenv("GRADSTACK_KERNELS", gradstack::kernel_set_name(set), 1);
    if (set == gradstack::KernelSet::reference)
        fmt::print(stderr, "kernels: reference (plain float64 loops, tensor/reference/; slow)\n");
}

void print_help() {
    using gradstack::apps::commands;
    fmt::print("gradstack: tensors, autograd and GPT-2 from scratch\n\n");
    fmt::print("usage: gradstack <command> [options]   (gradstack <command> --help for its options)\n\n");
    fmt::print("commands:\n");
    auto list = commands();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (const auto& c : list) fmt::print("  {:<16} {}\n", c.name, c.summary);
    fmt::print(
        "\nevery command that computes (all but download, tokenize, train-tokenizer) also takes\n"
        "  --kernels reference|fast   reference: run every optimised CPU kernel as its plain\n"
        "                             float64 loops (tensor/reference/; slow, for learning and\n"
        "                             checking); fast: the optimised kernels (default).\n"
        "                             GRADSTACK_KERNELS=reference|fast does the same.\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        !std::strcmp(argv[1], "help")) {
        print_help();
        return argc < 2 ? 2 : 0;
    }
    for (const auto& c : gradstack::apps::commands()) {
        if (c.name != argv[1]) continue;
        std::string program = std::string("gradstack ") + argv[1];
        std::vector<char*> args{program.data()};
        for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
        try {
            if (computes(c.name)) take_kernels_flag(args);
            return c.run(static_cast<int>(args.size()), args.data());
        } catch (const gradstack::Error& e) {
            fmt::print(stderr, "error: {}\n", e.what());
            return 1;
        } catch (const std::exception& e) {
            fmt::print(stderr, "error: {}\n", e.what());
            return 1;
        }
    }
    fmt::print(stderr, "gradstack: unknown command '{}'; run gradstack --help\n", argv[1]);
    return 2;
}

// `gradstack`: one binary, one subcommand per file in apps/. This file only finds the subcommand,
// prints the list for --help, and turns a gradstack::Error into a message and exit code 1.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "apps/command.h"
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

void print_help() {
    using gradstack::apps::commands;
    fmt::print("gradstack: tensors, autograd and GPT-2 from scratch\n\n");
    fmt::print("usage: gradstack <command> [options]   (gradstack <command> --help for its options)\n\n");
    fmt::print("commands:\n");
    auto list = commands();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (const auto& c : list) fmt::print("  {:<16} {}\n", c.name, c.summary);
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

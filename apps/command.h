// The subcommand table of the `gradstack` binary. Each subcommand lives in its own file under
// apps/ and registers itself with one line at namespace scope:
//     const bool registered = register_command({"demo", "train a small MLP ...", run_demo});
#pragma once

#include <string>
#include <vector>

namespace gradstack::apps {

struct Command {
    std::string name;
    std::string summary;
    // argv[0] is "gradstack NAME"; returns the process exit code.
    int (*run)(int argc, char** argv);
};

bool register_command(Command command);
const std::vector<Command>& commands();

}  // namespace gradstack::apps

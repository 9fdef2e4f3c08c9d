// The subcommands. Each takes its arguments (after the subcommand's name),
// returns the exit status, and throws UsageError for a command line that
// cannot run (main prints it and exits 2).
#ifndef EOSCALE_CLI_COMMANDS_H_
#define EOSCALE_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace eoscale::cli {

int CalcCommand(const std::vector<std::string>& args);
int PipelineCommand(const std::vector<std::string>& args);
int StatsCommand(const std::vector<std::string>& args);

}  // namespace eoscale::cli

#endif  // EOSCALE_CLI_COMMANDS_H_

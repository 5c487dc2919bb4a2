// The imgpack subcommands. Each add_* registers one subcommand and its callback on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace imgpack::cli {

void add_convert(CLI::App& app);
void add_info(CLI::App& app);
void add_verify(CLI::App& app);
void add_ls(CLI::App& app);
void add_cat(CLI::App& app);
void add_synth(CLI::App& app);
void add_submission(CLI::App& app);
void add_extract(CLI::App& app);
void add_decode(CLI::App& app);
void add_throughput(CLI::App& app);

// A command's failure that has already been reported: main exits with this status, silently.
struct ExitStatus {
    int code;
};

}  // namespace imgpack::cli

// The options of the commands that read one record (cat, decode): --split S and --index I or
// --name FILE, and the lookup they share.
#pragma once

#include <CLI/CLI.hpp>
#include <imgpack/reader.hpp>

#include <stdexcept>
#include <string>

namespace imgpack::cli {

struct RecordChoice {
    std::string split, name;
    size_t index = 0;
    CLI::Option* by_index = nullptr;

    void add_options(CLI::App* cmd) {
        cmd->add_option("--split", split, "The record's split")->required();
        by_index = cmd->add_option("--index", index, "Record index in the split");
        by_index->excludes(cmd->add_option("--name", name, "Record file name"));
    }

    // The chosen record's index in `s`, the split named by --split of the pack at `path`; `command`
    // names the command in messages. --index is checked by Split::at.
    size_t index_in(const Split& s, const std::string& path, const std::string& command) const {
        if (by_index->count() != 0) return index;
        if (name.empty()) throw std::runtime_error(command + ": give --index or --name");
        const std::optional<size_t> found = s.find(name);
        if (!found)
            throw std::runtime_error("imgpack: " + path + ": split '" + split + "' has no file named '" + name + "'");
        return *found;
    }
};

}  // namespace imgpack::cli

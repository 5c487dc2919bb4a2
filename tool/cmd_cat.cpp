// imgpack cat PACK --split S (--index I | --name FILE): a record's stored bytes to stdout.
#include "commands.hpp"

#include <imgpack/reader.hpp>

#include <cstdio>
#include <string>

namespace imgpack::cli {

void add_cat(CLI::App& app) {
    auto* cmd = app.add_subcommand("cat", "Write a record's stored image bytes to stdout");
    struct Args {
        std::string path, split, name;
        size_t index = 0;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    cmd->add_option("--split", a->split, "The record's split")->required();
    auto* by_index = cmd->add_option("--index", a->index, "Record index in the split");
    auto* by_name = cmd->add_option("--name", a->name, "Record file name");
    by_index->excludes(by_name);
    cmd->callback([a, by_index] {
        Pack pack = Pack::open(a->path);
        const Split split = pack.split(a->split);
        size_t i = a->index;
        if (by_index->count() == 0) {
            if (a->name.empty()) throw std::runtime_error("imgpack cat: give --index or --name");
            auto found = split.find(a->name);
            if (!found)
                throw std::runtime_error("imgpack: " + a->path + ": split '" + a->split + "' has no file named '" +
                                         a->name + "'");
            i = *found;
        }
        Record r = split.at(i);
        if (std::fwrite(r.data.data(), 1, r.data.size(), stdout) != r.data.size() || std::fflush(stdout) != 0)
            throw std::runtime_error("imgpack cat: cannot write to stdout");
    });
}

}  // namespace imgpack::cli

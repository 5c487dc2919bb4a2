// imgpack cat PACK --split S (--index I | --name FILE): a record's stored bytes to stdout.
#include "commands.hpp"
#include "record_choice.hpp"

#include <imgpack/reader.hpp>

#include <cstdio>
#include <string>

namespace imgpack::cli {

void add_cat(CLI::App& app) {
    auto* cmd = app.add_subcommand("cat", "Write a record's stored image bytes to stdout");
    struct Args {
        std::string path;
        RecordChoice record;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    a->record.add_options(cmd);
    cmd->callback([a] {
        Pack pack = Pack::open(a->path);
        const Split split = pack.split(a->record.split);
        const size_t i = a->record.index_in(split, a->path, "imgpack cat");
        Record r = split.at(i);
        if (std::fwrite(r.data.data(), 1, r.data.size(), stdout) != r.data.size() || std::fflush(stdout) != 0)
            throw std::runtime_error("imgpack cat: cannot write to stdout");
    });
}

}  // namespace imgpack::cli

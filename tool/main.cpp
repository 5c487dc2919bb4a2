// imgpack: the command-line front of the converter library and the reader SDK.
#include "commands.hpp"

#include <imgpack/reader.hpp>
#include <imgpack/signal_cleanup.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    imgpack::signal_cleanup::install();  // an interrupted convert removes its temporary file
    CLI::App app{"imgpack: ImageNet in one memory-mapped file"};
    app.require_subcommand(1);
    // IMGPACK_VERSION: the project() version in CMakeLists.txt, the one place it is written.
    app.set_version_flag("--version", "imgpack " IMGPACK_VERSION " (format " + std::to_string(imgpack::format::kVersionMajor) + "." +
                                          std::to_string(imgpack::format::kVersionMinor) + ")");
    imgpack::cli::add_convert(app);
    imgpack::cli::add_export(app);
    imgpack::cli::add_info(app);
    imgpack::cli::add_verify(app);
    imgpack::cli::add_ls(app);
    imgpack::cli::add_cat(app);
    imgpack::cli::add_extract(app);
    imgpack::cli::add_decode(app);
    imgpack::cli::add_synth(app);
    imgpack::cli::add_submission(app);
    imgpack::cli::add_throughput(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;  // usage errors exit 2; --help exits 0
    } catch (const imgpack::cli::ExitStatus& s) {
        return s.code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}

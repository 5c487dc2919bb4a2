// imgpack: the command-line front of the converter library and the reader SDK.
#include "commands.hpp"
#include "output.hpp"

#include <imgpack/reader.hpp>
#include <imgpack/signal_cleanup.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

int main(int argc, char** argv) {
    imgpack::signal_cleanup::install();  // a signal that ends us removes our temporary files first
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
        // What the command printed must have reached its reader: a failed write (a full disk
        // behind `>`, a closed pipe with SIGPIPE ignored) is an error, not a silent exit 0.
        imgpack::cli::flush_or_stop(stdout, "standard output");
        if (std::fclose(stdout) != 0) {  // a deferred write error (NFS)
            std::fprintf(stderr, "imgpack: cannot write to standard output: %s\n", std::strerror(errno));
            return 1;
        }
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

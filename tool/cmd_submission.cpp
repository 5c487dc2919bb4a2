// imgpack submission PACK PREDICTIONS -o OUT: the ILSVRC test-server top-5 submission file.
#include "commands.hpp"

#include "submission.hpp"

#include <imgpack/destination.hpp>

#include <algorithm>
#include <cstdio>

namespace imgpack::cli {

void add_submission(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "submission", "Check top-5 predictions for the test split and write the test server's submission file");
    cmd->footer("Written only when the pack's test split is exactly the ILSVRC2012 test set (ILSVRC2012_test_00000001.JPEG "
                "to ILSVRC2012_test_00100000.JPEG): otherwise line i would not be test image i, and the error names "
                "the missing and the extra images.");
    struct Args {
        std::string pack, predictions, output;
        bool force = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->pack, "The pack (its test split and class table)")->required();
    cmd->add_option("PREDICTIONS", a->predictions,
                    "One line per test image: <file name> and five labels (WNIDs or 0-based labels), best first")
        ->required();
    cmd->add_option("-o,--output", a->output, "The submission file: one line per test image, in test-file order")
        ->required();
    cmd->add_flag("-f,--force", a->force, "Replace the output if it exists (a regular file that is neither input)");
    cmd->callback([a] {
        const std::vector<InputPath> inputs{{"PACK", a->pack}, {"PREDICTIONS", a->predictions}};
        check_destination(a->output, a->force, inputs);  // before the work, as again when writing
        std::string text = make_submission(Pack::open(a->pack), a->predictions);
        write_file_atomically(a->output, text, a->force, inputs);
        std::printf("wrote %s: %zu lines\n", a->output.c_str(), static_cast<size_t>(std::count(text.begin(), text.end(), '\n')));
    });
}

}  // namespace imgpack::cli

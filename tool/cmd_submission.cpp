// imgpack submission PACK PREDICTIONS -o OUT: the ILSVRC test-server top-5 submission file.
#include "commands.hpp"

#include "submission.hpp"

#include <fstream>

namespace imgpack::cli {

void add_submission(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "submission", "Check top-5 predictions for the test split and write the test server's submission file");
    struct Args {
        std::string pack, predictions, output;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->pack, "The pack (its test split and class table)")->required();
    cmd->add_option("PREDICTIONS", a->predictions,
                    "One line per test image: <file name> and five labels (WNIDs or 0-based labels), best first")
        ->required();
    cmd->add_option("-o,--output", a->output, "The submission file: one line per test image, in test-file order")
        ->required();
    cmd->callback([a] {
        std::string text = make_submission(Pack::open(a->pack), a->predictions);
        // Small and written once: a plain write to a temporary name, then rename.
        std::string temp = a->output + ".tmp";
        {
            std::ofstream out(temp, std::ios::binary | std::ios::trunc);
            out << text;
            out.flush();
            if (!out) throw std::runtime_error("imgpack: cannot write " + temp);
        }
        std::error_code ec;
        std::filesystem::rename(temp, a->output, ec);
        if (ec) throw std::runtime_error("imgpack: cannot rename " + temp + " to " + a->output + ": " + ec.message());
        std::printf("wrote %s: %zu lines\n", a->output.c_str(), static_cast<size_t>(std::count(text.begin(), text.end(), '\n')));
    });
}

}  // namespace imgpack::cli

// The first stage of a conversion: the options checked, and every list the user gave (--classes,
// --class-names, --val-labels, --subset NAME=LIST) read once and checked, before the output is
// created or the first byte of an image archive is read. A mistake in a small file then costs
// nothing, not a pass over the archives.
#pragma once

#include "label_sources.hpp"

#include <imgpack/convert.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace imgpack {

struct Inputs {
    std::vector<std::string> classes;                    // --classes, in label order; empty: not given
    std::map<std::string, std::string> class_names;      // --class-names
    std::optional<ValLabels> val_labels;                 // --val-labels
    std::vector<std::vector<std::string>> subset_lists;  // per options.subsets: a list's names (none for a fraction)
};

// Throws std::runtime_error naming the option, file and line: options that do not go together,
// a source that does not exist, a list that cannot be read or breaks its format, validation
// labels naming a class outside --classes, --val-labels beside a validation folder of class
// folders (which label it already).
Inputs read_inputs(const ConvertOptions& options);

}  // namespace imgpack

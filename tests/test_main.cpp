// doctest's main, and a listener that lists the test cases that skipped themselves
// (IMGPACK_SKIP, skip.hpp) after doctest's summary, which counts them as passed.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "skip.hpp"

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct SkipListener : doctest::IReporter {
    explicit SkipListener(const doctest::ContextOptions& options) : out(*options.cout) {}

    void test_case_start(const doctest::TestCaseData& tc) override { current = tc.m_name; }
    void log_message(const doctest::MessageData& m) override {
        if (std::string_view(m.m_string.c_str()).starts_with(IMGPACK_SKIP_MARKER))
            skipped.push_back(current + " (" + (m.m_string.c_str() + std::string_view(IMGPACK_SKIP_MARKER).size()) + ")");
    }
    void test_run_end(const doctest::TestRunStats&) override {
        if (skipped.empty()) return;
        out << "[imgpack] " << skipped.size() << " of the test cases above were SKIPPED, not passed:\n";
        for (const std::string& s : skipped) out << "[imgpack]   " << s << "\n";
    }

    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}

    std::ostream& out;
    std::string current;
    std::vector<std::string> skipped;
};

}  // namespace

REGISTER_LISTENER("imgpack-skips", 1, SkipListener);

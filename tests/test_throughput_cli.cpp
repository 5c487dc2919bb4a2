// `imgpack throughput`: runs the loader over a pack and reports what it measured.
#include <doctest/doctest.h>

#include "loader_fixture.hpp"

#include <string>

using test::cli;

namespace {

// The number after "key": in a one-line JSON object (the CLI's own, flat enough for this).
double json_number(const std::string& json, const std::string& key) {
    size_t at = json.find("\"" + key + "\":");
    if (at == std::string::npos) throw std::runtime_error("no " + key + " in " + json);
    return std::stod(json.substr(at + key.size() + 3));
}

}  // namespace

TEST_CASE("cli throughput: an exact epoch count, reported as JSON") {
    test::TempDir dir;
    auto pack = test::write_loader_pack(dir).string();
    auto r = cli("throughput " + test::quote(pack) + " --split train --transform eval --size 32 -j 2 --batch 10 "
                 "--epochs 2 --json");
    REQUIRE(r.status == 0);
    CHECK(json_number(r.out, "images") == 200);  // 96 records, pad to 10 batches of 10, 2 epochs
    CHECK(json_number(r.out, "threads") == 2);
    CHECK(json_number(r.out, "images_per_s") > 0);
    CHECK(json_number(r.out, "epochs") == 2);
    CHECK(r.out.find("\"transform\":\"eval\"") != std::string::npos);

    auto subset = cli("throughput " + test::quote(pack) + " --subset quarter --transform none -j 1 --batch 4 "
                      "--epochs 1 --cold --json");
    REQUIRE(subset.status == 0);
    CHECK(json_number(subset.out, "images") == 24);
    CHECK(subset.out.find("\"transform\":\"none\"") != std::string::npos);

    auto text = cli("throughput " + test::quote(pack) + " --split validation --size 32 --seconds 0.2");
    REQUIRE(text.status == 0);
    CHECK(text.out.find("images/s on") != std::string::npos);
}

TEST_CASE("cli throughput: a record that does not decode fails the run, or is skipped") {
    test::TempDir dir;
    test::LoaderPackSpec spec;
    spec.truncated = {30};
    auto pack = test::write_loader_pack(dir, spec).string();
    auto failed = cli("throughput " + test::quote(pack) + " --split train --size 32 --epochs 1");
    CHECK(failed.status == 1);
    CHECK(failed.err.find("split 'train' record 30 (train_0030.JPEG)") != std::string::npos);
    auto skipped = cli("throughput " + test::quote(pack) + " --split train --size 32 --epochs 1 --on-bad-data skip");
    CHECK(skipped.status == 0);
    CHECK(skipped.err.find("1 samples replaced") != std::string::npos);
    CHECK(cli("throughput " + test::quote(pack) + " --split train --transform blur").status == 2);
    CHECK(cli("throughput " + test::quote(pack) + " --transform eval").status == 2);  // no split nor subset
}

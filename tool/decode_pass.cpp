#include "decode_pass.hpp"

#include <imgpack/decode.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace imgpack::cli {
namespace {

struct Job {
    uint64_t offset;  // decoded in file order, so that reads run forward through the pack
    size_t split, index;
};

// Records taken by a thread at a time: enough to make the shared counter cheap, few enough that
// the threads finish together.
constexpr size_t kChunk = 16;

}  // namespace

std::vector<DecodeFailure> decode_all(const Pack& pack, unsigned threads,
                                      const std::vector<std::pair<size_t, size_t>>& known_bad) {
    std::vector<Job> jobs;
    for (size_t s = 0; s < pack.splits().size(); ++s) {
        const Split& split = pack.splits()[s];
        for (size_t i = 0; i < split.size(); ++i)
            if (!std::binary_search(known_bad.begin(), known_bad.end(), std::pair{s, i}))
                jobs.push_back({split[i].offset, s, i});
    }
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.offset < b.offset; });

    std::atomic<size_t> next{0};
    std::mutex mutex;
    std::vector<DecodeFailure> failures;
    std::exception_ptr error;  // the first failure that is not the data's (out of memory): rethrown
    auto decode_chunks = [&] {
        Decoder decoder;
        TransformOptions whole;
        whole.kind = TransformKind::none;
        std::vector<unsigned char> pixels;
        for (size_t begin; (begin = next.fetch_add(kChunk)) < jobs.size();) {
            for (size_t j = begin; j < std::min(jobs.size(), begin + kChunk); ++j) {
                const Record r = pack.splits()[jobs[j].split][jobs[j].index];
                std::string reason;
                try {
                    const Decoder::Header h = decoder.header(r.data);
                    const uint64_t bytes = uint64_t(h.width) * uint64_t(h.height) * 3;
                    if (bytes >= kMaxDecodedBytes) {
                        reason = std::to_string(h.width) + "x" + std::to_string(h.height) +
                                 " is too large to decode (TensorFlow's 2^29-byte decode limit)";
                    } else {
                        pixels.resize(bytes);
                        decoder.decode(r.data, whole, 0, ImageView::hwc(pixels.data(), h.width, h.height));
                    }
                } catch (const DecodeError& e) {
                    reason = e.what();
                }
                if (!reason.empty()) {
                    std::lock_guard lock(mutex);
                    failures.push_back({jobs[j].split, jobs[j].index, std::move(reason)});
                }
            }
        }
    };
    auto work = [&] {
        try {
            decode_chunks();
        } catch (...) {
            std::lock_guard lock(mutex);
            if (!error) error = std::current_exception();
            next = jobs.size();  // the other threads stop after their chunk
        }
    };
    {
        std::vector<std::jthread> pool;
        const size_t n = std::max<size_t>(1, std::min<size_t>(threads, (jobs.size() + kChunk - 1) / kChunk));
        for (size_t t = 1; t < n; ++t) pool.emplace_back(work);  // a thread that cannot start throws;
        work();                                                  // the others finish and are joined
    }
    if (error) std::rethrow_exception(error);
    std::sort(failures.begin(), failures.end(), [](const DecodeFailure& a, const DecodeFailure& b) {
        return a.split != b.split ? a.split < b.split : a.index < b.index;
    });
    return failures;
}

}  // namespace imgpack::cli

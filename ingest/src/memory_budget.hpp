// A number of bytes that threads share: each takes what it needs before allocating and gives it
// back after, waiting while the rest is in use. The converter's repairs and decode checks decode
// whole images (up to 1.5 GiB each, at TensorFlow's limit); the budget bounds what they hold at
// once, whatever the number of workers: at most the budget, or one image alone when it needs more.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace imgpack {

class MemoryBudget {
public:
    explicit MemoryBudget(uint64_t total) : total_(total) {}
    uint64_t total() const { return total_; }

    // Holds `bytes` of the budget for its lifetime; more than the whole waits until nothing else
    // is held, then holds it all.
    class Lease {
    public:
        Lease(MemoryBudget& b, uint64_t bytes) : b_(b), bytes_(bytes < b.total_ ? bytes : b.total_) {
            std::unique_lock lock(b_.m_);
            b_.cv_.wait(lock, [&] { return b_.used_ + bytes_ <= b_.total_; });
            b_.used_ += bytes_;
        }
        ~Lease() {
            {
                std::lock_guard lock(b_.m_);
                b_.used_ -= bytes_;
            }
            b_.cv_.notify_all();
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

    private:
        MemoryBudget& b_;
        uint64_t bytes_;
    };

private:
    const uint64_t total_;
    uint64_t used_ = 0;
    std::mutex m_;
    std::condition_variable cv_;
};

}  // namespace imgpack

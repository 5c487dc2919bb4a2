// A number of bytes that threads share: each takes what it needs before allocating and gives it
// back after, waiting while the rest is in use. The converter's repairs decode whole images (up to
// half a GiB each); the budget bounds what they hold at once, whatever the number of workers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace imgpack {

class MemoryBudget {
public:
    explicit MemoryBudget(uint64_t total) : total_(total) {}
    uint64_t total() const { return total_; }

    // Holds `bytes` of the budget for its lifetime. The caller checks bytes <= total() first:
    // more could never be granted.
    class Lease {
    public:
        Lease(MemoryBudget& b, uint64_t bytes) : b_(b), bytes_(bytes) {
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

// A producer -> N parallel workers -> one in-order consumer pipeline. Items are consumed in the
// order they were pushed whatever the number of workers, so the converter's output does not
// depend on thread count. The bytes in flight are bounded, so memory does not grow with input.
#pragma once

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace imgpack {

template <class Item>
class OrderedPipeline {
public:
    using Work = std::function<void(Item&, unsigned worker)>;  // runs on a worker thread
    using Consume = std::function<void(Item&&)>;                // runs on the consumer thread, in order

    OrderedPipeline(unsigned workers, size_t max_bytes_in_flight, Work work, Consume consume)
        : max_bytes_(max_bytes_in_flight), work_(std::move(work)), consume_(std::move(consume)) {
        if (workers == 0) workers = 1;
        // A thread that cannot start (a limit on processes or threads, as containers set) stops
        // the threads already running and becomes an error that says so: a std::thread that is
        // still joinable when the constructor unwinds would call std::terminate.
        try {
            for (unsigned w = 0; w < workers; ++w) workers_.emplace_back([this, w] { work_loop(w); });
            consumer_ = std::thread([this] { consume_loop(); });
        } catch (const std::system_error& e) {
            const size_t started = workers_.size() + (consumer_.joinable() ? 1 : 0);
            {
                std::lock_guard lock(m_);
                aborted_ = true;
            }
            cv_.notify_all();
            join();
            throw std::runtime_error("imgpack: cannot start thread " + std::to_string(started + 1) + " of " +
                                     std::to_string(workers + 1) + " (" + std::to_string(workers) +
                                     " workers and a writer): " + e.what() +
                                     ". A limit on processes or threads (ulimit -u, a container's pid limit)? "
                                     "Fewer workers (-j) need fewer threads");
        }
    }

    ~OrderedPipeline() {
        {
            std::lock_guard lock(m_);
            closing_ = true;
            if (!error_) aborted_ = true;  // destroyed without finish(): stop at once
        }
        cv_.notify_all();
        join();
    }

    // Blocks while the window is full. Throws the pipeline's first error, if any.
    void push(Item&& item, size_t bytes) {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return error_ || in_flight_ == 0 || in_flight_ + bytes <= max_bytes_; });
        if (error_) std::rethrow_exception(error_);
        uint64_t seq = next_push_++;
        slots_.emplace(seq, Slot{std::move(item), bytes, false});
        in_flight_ += bytes;
        todo_.push_back(seq);
        lock.unlock();
        cv_.notify_all();
    }

    // CPU seconds the worker threads (together) and the consumer thread used; complete once
    // finish() has returned.
    double worker_cpu_seconds() const { return worker_cpu_.load(); }
    double consumer_cpu_seconds() const { return consumer_cpu_.load(); }

    // Waits until every item pushed so far is consumed (the workers stay); rethrows the first error.
    void wait_idle() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return error_ || next_consume_ == next_push_; });
        if (error_) std::rethrow_exception(error_);
    }

    // Waits until every pushed item is consumed; rethrows the first error.
    void finish() {
        {
            std::lock_guard lock(m_);
            closing_ = true;
        }
        cv_.notify_all();
        join();
        if (error_) std::rethrow_exception(error_);
    }

private:
    struct Slot {
        Item item;
        size_t bytes;
        bool done;
    };

    void join() {
        for (auto& t : workers_)
            if (t.joinable()) t.join();
        if (consumer_.joinable()) consumer_.join();
    }

    void fail(std::exception_ptr e) {
        {
            std::lock_guard lock(m_);
            if (!error_) error_ = e;
        }
        cv_.notify_all();
    }

    static double thread_cpu_seconds() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
    }
    // Adds the calling thread's CPU time to `total` when the thread's loop ends, however it ends.
    struct CpuTally {
        std::atomic<double>& total;
        ~CpuTally() {
            double t = thread_cpu_seconds();
            for (double seen = total.load(); !total.compare_exchange_weak(seen, seen + t);) {
            }
        }
    };

    void work_loop(unsigned w) {
        CpuTally tally{worker_cpu_};
        for (;;) {
            Slot* slot = nullptr;
            {
                std::unique_lock lock(m_);
                cv_.wait(lock, [&] { return error_ || aborted_ || !todo_.empty() || closing_; });
                if (error_ || aborted_ || todo_.empty()) return;
                slot = &slots_.at(todo_.front());  // map nodes stay put while others come and go
                todo_.erase(todo_.begin());
            }
            try {
                work_(slot->item, w);
            } catch (...) {
                fail(std::current_exception());
                return;
            }
            {
                std::lock_guard lock(m_);
                slot->done = true;
            }
            cv_.notify_all();
        }
    }

    void consume_loop() {
        CpuTally tally{consumer_cpu_};
        for (;;) {
            Item item;
            size_t bytes = 0;
            {
                std::unique_lock lock(m_);
                cv_.wait(lock, [&] {
                    if (error_ || aborted_) return true;
                    auto it = slots_.find(next_consume_);
                    if (it != slots_.end() && it->second.done) return true;
                    return closing_ && next_consume_ == next_push_;
                });
                if (error_ || aborted_) return;
                auto it = slots_.find(next_consume_);
                if (it == slots_.end()) return;  // closing and all consumed
                item = std::move(it->second.item);
                bytes = it->second.bytes;
                slots_.erase(it);
            }
            try {
                consume_(std::move(item));
            } catch (...) {
                fail(std::current_exception());
                return;
            }
            {
                std::lock_guard lock(m_);
                in_flight_ -= bytes;
                ++next_consume_;
            }
            cv_.notify_all();
        }
    }

    const size_t max_bytes_;
    Work work_;
    Consume consume_;
    std::mutex m_;
    std::condition_variable cv_;  // one condition for all: state changes are few per item
    std::map<uint64_t, Slot> slots_;
    std::vector<uint64_t> todo_;
    uint64_t next_push_ = 0, next_consume_ = 0;
    size_t in_flight_ = 0;
    bool closing_ = false, aborted_ = false;
    std::exception_ptr error_;
    std::atomic<double> worker_cpu_{0}, consumer_cpu_{0};
    std::vector<std::thread> workers_;
    std::thread consumer_;
};

}  // namespace imgpack

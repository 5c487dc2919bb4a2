#include "async_writer.hpp"

#include <imgpack/unique_fd.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace imgpack {

AsyncWriter::AsyncWriter(int fd, int direct_fd, std::string name, size_t buffers, size_t chunk_capacity)
    : fd_(fd),
      direct_fd_(direct_fd),
      name_(std::move(name)),
      buffers_left_(buffers < 2 ? 1 : buffers - 1),  // the caller holds one already
      chunk_capacity_(chunk_capacity),
      thread_([this] { run(); }) {}

AsyncWriter::~AsyncWriter() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;  // what is still queued belongs to a pack that will not be finished
    }
    changed_.notify_all();
    thread_.join();
}

void AsyncWriter::throw_failure() { throw std::runtime_error(failure_); }

WriteBuffer AsyncWriter::submit(WriteBuffer&& full, size_t size, uint64_t offset) {
    WriteBuffer next;
    {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !free_.empty() || buffers_left_ > 0 || !failure_.empty(); });
        if (!failure_.empty()) throw_failure();
        if (!free_.empty()) {
            next = std::move(free_.back());
            free_.pop_back();
        } else {
            --buffers_left_;
        }
    }
    next.reserve(chunk_capacity_);
    next.assign(full.begin() + static_cast<std::ptrdiff_t>(size), full.end());
    {
        std::lock_guard lock(mutex_);
        queue_.push_back({std::move(full), size, offset});
    }
    changed_.notify_all();
    return next;
}

void AsyncWriter::finish() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
    if (!failure_.empty()) throw_failure();
}

void AsyncWriter::run() {
    for (;;) {
        Job job;
        bool skip = false;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return !queue_.empty() || stopping_; });
            if (queue_.empty()) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            busy_ = true;
            skip = stopping_ || !failure_.empty();  // after a failure the file is abandoned anyway
        }
        std::string error;
        if (!skip) {
            try {
                write(job);
            } catch (const std::exception& e) {
                error = e.what();
            }
        }
        {
            std::lock_guard lock(mutex_);
            if (!error.empty() && failure_.empty()) failure_ = std::move(error);
            job.buffer.clear();
            free_.push_back(std::move(job.buffer));
            busy_ = false;
        }
        changed_.notify_all();
    }
}

void AsyncWriter::write(const Job& job) {
    std::span<const unsigned char> data(job.buffer.data(), job.size);
    uint64_t offset = job.offset;
    if (direct_fd_ >= 0) {
        size_t done = 0;
        const int e = write_all_at(direct_fd_, data, offset, &done);
        if (e == 0) return;
        if (e != EINVAL) fail(e);
        // The file system took O_DIRECT at open but refuses it now, or a short write left an
        // offset that is not a page multiple: go on buffered from here, which reports the real
        // error, if there is one.
        direct_fd_ = -1;
        data = data.subspan(done);
        offset += done;
    }
    if (const int e = write_all_at(fd_, data, offset)) fail(e);
}

void AsyncWriter::fail(int error) const {
    throw std::runtime_error("imgpack: cannot write " + name_ + ": " + std::strerror(error));
}

}  // namespace imgpack

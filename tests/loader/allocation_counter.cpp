// The loader tests' global allocation functions: they count operator new calls, so that a test
// can check that a warm Decoder allocates nothing (test_loader_decode.cpp). In a file of their
// own, where no call site pairs them with anything.
#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocations{0};
}

namespace test {
long allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace test

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

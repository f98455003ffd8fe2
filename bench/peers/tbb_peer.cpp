// bench/peers/tbb_peer.cpp: the oneTBB peer of hop-bench, built only when
// CMake finds TBB. Two entry points with C linkage (declared in
// bench_env.h); each runs inside a task_arena of the row's thread count, in
// which the calling thread takes part, as hop's driver task does on hop's
// pool.
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <tbb/version.h>

#include <chrono>
#include <cstdint>
#include <memory>

namespace {

std::unique_ptr<tbb::task_arena> arena;
unsigned int arena_threads;

tbb::task_arena &arena_for(unsigned int threads) {
    if (!arena || arena_threads != threads) {
        arena.reset(new tbb::task_arena(static_cast<int>(threads)));
        arena_threads = threads;
    }
    return *arena;
}

uint64_t now_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

// A task per call, leaves included, as hop's and Go's versions.
long fib(int n) {
    if (n < 2)
        return n;
    long a = 0, b = 0;
    tbb::task_group g;
    g.run([&] { a = fib(n - 1); });
    g.run([&] { b = fib(n - 2); });
    g.wait();
    return a + b;
}

volatile uint64_t sink;

} // namespace

extern "C" uint64_t bench_tbb_spawn_join(unsigned int threads, uint64_t tasks, unsigned int batch) {
    uint64_t ns = 0;
    arena_for(threads).execute([&] {
        tbb::task_group g;
        uint64_t t0 = now_ns();
        for (uint64_t done = 0; done < tasks;) {
            uint64_t n = tasks - done < batch ? tasks - done : batch;
            for (uint64_t k = 0; k < n; k++)
                g.run([k] { sink = k; });
            g.wait();
            done += n;
        }
        ns = now_ns() - t0;
    });
    return ns;
}

extern "C" uint64_t bench_tbb_fib(unsigned int threads, int n, long *result) {
    uint64_t ns = 0;
    arena_for(threads).execute([&] {
        uint64_t t0 = now_ns();
        *result = fib(n);
        ns = now_ns() - t0;
    });
    return ns;
}

extern "C" const char *bench_tbb_version_string(void) { return TBB_VERSION_STRING; }

#!/usr/bin/env python3
"""bench/peers/asyncio_peer.py: the Python asyncio peer of hop-bench.

Measures, in this process, one of:
  run_in_executor  round trips `await loop.run_in_executor(pool, f)`, one at a time
  to_thread        round trips `await asyncio.to_thread(f)`, one at a time (the
                   loop's default executor is set to the same pool)
  throughput       --inflight coroutines each awaiting loop.run_in_executor(pool, f)
                   in a loop: jobs per second with that many in flight
  fanout           one coroutine awaiting asyncio.gather of --fanout
                   loop.run_in_executor(pool, f): time per fan-out
  memory           --tasks tasks each awaiting one shared future: resident bytes per
                   suspended task (prints bytes_per_task=X instead of timings)
  blocking         --jobs coroutines each awaiting loop.run_in_executor(None, g) where
                   g sleeps 1 ms (time.sleep): the default executor, min(32, CPUs + 4)
                   threads; one operation is the whole batch, one cold batch then
                   --repeat warm ones, no calibration; also prints the p99 time in
                   queue (extra.p99_wait_us), the executor's threads
                   (extra.peak_threads) and the cold batch (extra.cold_ms)
where pool is concurrent.futures.ThreadPoolExecutor(max_workers=--threads) and f
returns None. Calibration and repetitions follow bench/bench_common.c: grow the
count until a batch lasts a quarter of --target-ms, scale to the target, warm up
at that size, then time --repeat batches. Prints one line on stdout:

  asyncio_peer mode=M version=V iterations=N median_ns=X min_ns=X max_ns=X cpu_ns=X cores=X

with nanoseconds per operation, and the process CPU time (getrusage RUSAGE_SELF,
user + system, every thread) per operation. Progress, if any, goes to stderr.
"""
import argparse
import asyncio
import platform
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def f():
    return None


def cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


async def batch_run_in_executor(loop, pool, n, inflight):
    for _ in range(n):
        await loop.run_in_executor(pool, f)


async def batch_to_thread(loop, pool, n, inflight):
    for _ in range(n):
        await asyncio.to_thread(f)


async def batch_throughput(loop, pool, n, inflight):
    """n jobs, spread over min(n, inflight) coroutines that are all started and
    waiting at a start line before the clock starts (creating them is not
    timed, as in the C harness). Returns the timed nanoseconds."""
    tasks = min(n, inflight)
    start = asyncio.Event()
    arrived = 0
    ready = loop.create_future()

    async def worker(count):
        nonlocal arrived
        arrived += 1
        if arrived == tasks:
            ready.set_result(None)
        await start.wait()
        for _ in range(count):
            await loop.run_in_executor(pool, f)

    futures = [asyncio.ensure_future(worker(n // tasks + (k < n % tasks))) for k in range(tasks)]
    await ready
    t0 = time.perf_counter_ns()
    start.set()
    await asyncio.gather(*futures)
    return time.perf_counter_ns() - t0


async def batch_fanout(loop, pool, n, inflight):
    for _ in range(n):
        await asyncio.gather(*[loop.run_in_executor(pool, f) for _ in range(FANOUT)])


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


async def memory(tasks):
    loop = asyncio.get_running_loop()
    gate = loop.create_future()

    async def waiter():
        await gate

    handles = [None] * tasks  # resident before the baseline
    before = resident_bytes()
    for k in range(tasks):
        handles[k] = loop.create_task(waiter())
    await asyncio.sleep(0)  # every task runs up to its await
    after = resident_bytes()
    print("asyncio_peer mode=memory version=Python-%s bytes_per_task=%.1f tasks=%d"
          % (platform.python_version(), (after - before) / tasks, tasks))
    gate.set_result(None)
    await asyncio.gather(*handles)


async def blocking(args):
    loop = asyncio.get_running_loop()
    submitted = [0] * args.jobs
    started = [0] * args.jobs

    def g(k):
        started[k] = time.perf_counter_ns()
        time.sleep(0.001)

    async def call(k):
        submitted[k] = time.perf_counter_ns()
        await loop.run_in_executor(None, g, k)

    async def batch():
        t0 = time.perf_counter_ns()
        await asyncio.gather(*[call(k) for k in range(args.jobs)])
        return time.perf_counter_ns() - t0

    def p99_wait():
        waits = sorted(started[k] - submitted[k] for k in range(args.jobs))
        return waits[(args.jobs * 99 + 99) // 100 - 1]

    cold = await batch()
    walls, cpus, cores, p99s = [], [], [], []
    for _ in range(args.repeat):
        c0 = cpu_ns()
        ns = await batch()
        cpu = cpu_ns() - c0
        walls.append(ns)
        cpus.append(cpu)
        cores.append(cpu / ns)
        p99s.append(p99_wait())
    threads = len(loop._default_executor._threads)

    def median(v):
        v = sorted(v)
        k = len(v)
        return v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2

    print(
        "asyncio_peer mode=blocking version=Python-%s iterations=1 median_ns=%.1f min_ns=%.1f max_ns=%.1f "
        "cpu_ns=%.1f cores=%.3f extra.p99_wait_us=%.3f extra.peak_threads=%d extra.cold_ms=%.3f"
        % (platform.python_version(), median(walls), min(walls), max(walls), median(cpus), median(cores),
           median(p99s) / 1e3, threads, cold / 1e6))


FANOUT = 10000

BATCHES = {
    "fanout": batch_fanout,
    "run_in_executor": batch_run_in_executor,
    "to_thread": batch_to_thread,
    "throughput": batch_throughput,
}


async def timed(batch, loop, pool, n, inflight):
    """(wall ns, cpu ns) of one batch of n operations."""
    c0 = cpu_ns()
    t0 = time.perf_counter_ns()
    inner = await batch(loop, pool, n, inflight)
    wall = time.perf_counter_ns() - t0
    cpu = cpu_ns() - c0
    return (inner if inner is not None else wall), cpu


def scale(n, ns, target):
    scaled = n * target / (ns if ns else 1)
    return 1 if scaled < 1 else int(scaled)


async def main(args):
    global FANOUT
    FANOUT = args.fanout
    if args.mode == "memory":
        await memory(args.tasks)
        return
    if args.mode == "blocking":
        await blocking(args)
        return
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=args.threads)
    loop.set_default_executor(pool)
    batch = BATCHES[args.mode]
    target = int(args.target_ms * 1e6)

    n = 1
    while True:
        ns, _ = await timed(batch, loop, pool, n, args.inflight)
        if ns >= target // 4 or n >= 1 << 40:
            break
        n *= 16 if ns < target // 256 else 2
    last, n = n, scale(n, ns, target)
    for _ in range(3):
        if n == last:
            break  # the run that showed it was the warm-up
        ns, _ = await timed(batch, loop, pool, n, args.inflight)
        if target // 2 <= ns <= target * 2:
            break
        last, n = n, scale(n, ns, target)

    walls, cpus, cores = [], [], []
    for _ in range(args.repeat):
        ns, cpu = await timed(batch, loop, pool, n, args.inflight)
        walls.append(ns / n)
        cpus.append(cpu / n)
        cores.append(cpu / ns if ns else 0.0)
    pool.shutdown(wait=True)

    def median(v):
        v = sorted(v)
        k = len(v)
        return v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2

    print(
        "asyncio_peer mode=%s version=Python-%s iterations=%d median_ns=%.1f min_ns=%.1f max_ns=%.1f "
        "cpu_ns=%.1f cores=%.3f"
        % (args.mode, platform.python_version(), n, median(walls), min(walls), max(walls), median(cpus),
           median(cores)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=sorted(BATCHES) + ["memory", "blocking"], required=True)
    parser.add_argument("--fanout", type=int, default=10000)
    parser.add_argument("--tasks", type=int, default=100000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--target-ms", type=float, default=75.0)
    parser.add_argument("--inflight", type=int, default=1024)
    asyncio.run(main(parser.parse_args()))
    sys.stdout.flush()

// bench/peers/go/main.go: the Go peer of hop-bench. hop-bench builds it
// (go build, into its build folder) and runs it once per row:
//
//	spawn      batches of -batch goroutines, each calling wg.Done(); wg.Wait() per batch
//	roundtrip  one job at a time to -threads worker goroutines over channels and back
//	offload    -inflight jobs in flight through the same worker goroutines
//	fanout     -fanout goroutines each running the job, joined with a WaitGroup
//	fib        fib(-fib) with a goroutine per call, joined with a WaitGroup
//	memory     -tasks goroutines blocked on one channel: resident bytes per goroutine
//	blocking   -jobs goroutines each blocking 1 ms in syscall.Nanosleep (a real
//	           blocking system call: the runtime hands the blocked thread's P
//	           to another thread); one operation is the whole batch, one cold
//	           batch then -repeat warm ones, no calibration; also prints the p99
//	           time from "go" to the goroutine's start (extra.p99_wait_us), the
//	           threads the runtime created (extra.peak_threads) and the cold
//	           batch (extra.cold_ms)
//
// Calibration and repetitions follow bench/bench_common.c: grow the count
// until a batch lasts a quarter of -target-ms, scale to the target, warm up
// at that size, then time -repeat batches. It prints one line:
//
//	go_peer mode=M version=V iterations=N median_ns=X min_ns=X max_ns=X cpu_ns=X cores=X
//
// (nanoseconds per operation; this process's CPU time, getrusage). The
// memory mode prints "go_peer mode=memory version=V bytes_per_task=X".
// GOMAXPROCS is set by hop-bench to the row's thread count.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"syscall"
	"time"
)

//go:noinline
func job(x int) int { return x }

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

var (
	jobs    chan int
	results chan int
)

func startWorkers(threads, inflight int) {
	jobs = make(chan int, inflight)
	results = make(chan int, inflight)
	for i := 0; i < threads; i++ {
		go func() {
			for j := range jobs {
				results <- job(j)
			}
		}()
	}
}

// Each batch function runs n operations and returns the nanoseconds.
func spawnBatch(n int64, batch int) int64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	for done := int64(0); done < n; {
		k := int64(batch)
		if n-done < k {
			k = n - done
		}
		wg.Add(int(k))
		for i := int64(0); i < k; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		done += k
	}
	return time.Since(t0).Nanoseconds()
}

func flowBatch(n int64, inflight int) int64 {
	t0 := time.Now()
	sent, got := int64(0), int64(0)
	acc := 0
	for ; sent < int64(inflight) && sent < n; sent++ {
		jobs <- int(sent)
	}
	for got < n {
		acc += <-results
		got++
		if sent < n {
			jobs <- int(sent)
			sent++
		}
	}
	sink = acc
	return time.Since(t0).Nanoseconds()
}

var sink int

func fanoutBatch(n int64, fanout int) int64 {
	t0 := time.Now()
	var wg sync.WaitGroup
	out := make([]int, fanout)
	for i := int64(0); i < n; i++ {
		wg.Add(fanout)
		for k := 0; k < fanout; k++ {
			go func(k int) { out[k] = job(k); wg.Done() }(k)
		}
		wg.Wait()
	}
	return time.Since(t0).Nanoseconds()
}

func fib(n int) int {
	if n < 2 {
		return n
	}
	var a, b int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { a = fib(n - 1); wg.Done() }()
	go func() { b = fib(n - 2); wg.Done() }()
	wg.Wait()
	return a + b
}

func fibSerial(n int) int {
	if n < 2 {
		return n
	}
	return fibSerial(n-1) + fibSerial(n-2)
}

func fibBatch(n int64, fn int) int64 {
	want := fibSerial(fn)
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		if got := fib(fn); got != want {
			fmt.Fprintf(os.Stderr, "fib(%d) = %d, want %d\n", fn, got, want)
			os.Exit(1)
		}
	}
	return time.Since(t0).Nanoseconds()
}

func residentBytes() int64 {
	var size, resident int64
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Fscan(f, &size, &resident)
	return resident * int64(os.Getpagesize())
}

func memory(tasks int) {
	ch := make(chan struct{})
	var started, done sync.WaitGroup
	runtime.GC()
	before := residentBytes()
	started.Add(tasks)
	done.Add(tasks)
	for i := 0; i < tasks; i++ {
		go func() {
			started.Done()
			<-ch
			done.Done()
		}()
	}
	started.Wait()
	after := residentBytes()
	fmt.Printf("go_peer mode=memory version=%s bytes_per_task=%.1f tasks=%d\n", runtime.Version(),
		float64(after-before)/float64(tasks), tasks)
	close(ch)
	done.Wait()
}

func blocking(jobs, repeat int) {
	base := time.Now()
	submitted := make([]int64, jobs)
	started := make([]int64, jobs)
	batch := func() int64 {
		var wg sync.WaitGroup
		wg.Add(jobs)
		t0 := time.Since(base).Nanoseconds()
		for k := 0; k < jobs; k++ {
			submitted[k] = time.Since(base).Nanoseconds()
			go func(k int) {
				started[k] = time.Since(base).Nanoseconds()
				ts := syscall.Timespec{Sec: 0, Nsec: 1000000}
				syscall.Nanosleep(&ts, nil)
				wg.Done()
			}(k)
		}
		wg.Wait()
		return time.Since(base).Nanoseconds() - t0
	}
	p99 := func() float64 {
		waits := make([]int64, jobs)
		for k := range waits {
			waits[k] = started[k] - submitted[k]
		}
		sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
		return float64(waits[(jobs*99+99)/100-1])
	}
	median := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		k := len(s)
		if k%2 == 1 {
			return s[k/2]
		}
		return (s[k/2-1] + s[k/2]) / 2
	}
	cold := batch()
	walls := make([]float64, repeat)
	cpus := make([]float64, repeat)
	cores := make([]float64, repeat)
	p99s := make([]float64, repeat)
	for r := 0; r < repeat; r++ {
		c0 := cpuNs()
		ns := batch()
		c := cpuNs() - c0
		walls[r] = float64(ns)
		cpus[r] = float64(c)
		cores[r] = float64(c) / float64(ns)
		p99s[r] = p99()
	}
	sorted := append([]float64(nil), walls...)
	sort.Float64s(sorted)
	fmt.Printf("go_peer mode=blocking version=%s iterations=1 median_ns=%.1f min_ns=%.1f max_ns=%.1f cpu_ns=%.1f cores=%.3f extra.p99_wait_us=%.3f extra.peak_threads=%d extra.cold_ms=%.3f\n",
		runtime.Version(), median(walls), sorted[0], sorted[len(sorted)-1], median(cpus), median(cores),
		median(p99s)/1e3, pprof.Lookup("threadcreate").Count(), float64(cold)/1e6)
}

func main() {
	mode := flag.String("mode", "", "spawn, roundtrip, offload, fanout, fib, memory or blocking")
	threads := flag.Int("threads", 2, "worker goroutines (and GOMAXPROCS, set by the caller)")
	repeat := flag.Int("repeat", 11, "repetitions")
	targetMs := flag.Float64("target-ms", 75, "duration of one repetition")
	inflight := flag.Int("inflight", 1024, "jobs in flight (offload)")
	batch := flag.Int("batch", 100, "goroutines per batch (spawn)")
	fanout := flag.Int("fanout", 10000, "goroutines per fan-out")
	fibN := flag.Int("fib", 30, "fib(n)")
	tasks := flag.Int("tasks", 100000, "goroutines (memory)")
	jobs := flag.Int("jobs", 1000, "blocking calls per batch (blocking)")
	flag.Parse()

	var run func(n int64) int64
	switch *mode {
	case "spawn":
		run = func(n int64) int64 { return spawnBatch(n, *batch) }
	case "roundtrip":
		startWorkers(*threads, 1)
		run = func(n int64) int64 { return flowBatch(n, 1) }
	case "offload":
		startWorkers(*threads, *inflight)
		run = func(n int64) int64 { return flowBatch(n, *inflight) }
	case "fanout":
		run = func(n int64) int64 { return fanoutBatch(n, *fanout) }
	case "fib":
		run = func(n int64) int64 { return fibBatch(n, *fibN) }
	case "memory":
		memory(*tasks)
		return
	case "blocking":
		blocking(*jobs, *repeat)
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown -mode %q\n", *mode)
		os.Exit(2)
	}

	target := int64(*targetMs * 1e6)
	scale := func(n, ns int64) int64 {
		if ns <= 0 {
			ns = 1
		}
		s := int64(float64(n) * float64(target) / float64(ns))
		if s < 1 {
			return 1
		}
		return s
	}
	n := int64(1)
	var ns int64
	for {
		ns = run(n)
		if ns >= target/4 || n >= 1<<40 {
			break
		}
		if ns < target/256 {
			n *= 16
		} else {
			n *= 2
		}
	}
	last := n
	n = scale(n, ns)
	for i := 0; i < 3 && n != last; i++ {
		ns = run(n)
		if ns >= target/2 && ns <= target*2 {
			break
		}
		last = n
		n = scale(n, ns)
	}
	// A single iteration far longer than a repetition should be (fib in
	// --quick): the calibration runs were the warm-up; three repetitions.
	if n == 1 && ns > 4*target && *repeat > 3 {
		*repeat = 3
	}
	walls := make([]float64, *repeat)
	cpus := make([]float64, *repeat)
	cores := make([]float64, *repeat)
	for r := 0; r < *repeat; r++ {
		c0 := cpuNs()
		ns := run(n)
		c := cpuNs() - c0
		walls[r] = float64(ns) / float64(n)
		cpus[r] = float64(c) / float64(n)
		cores[r] = float64(c) / float64(ns)
	}
	median := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		k := len(s)
		if k%2 == 1 {
			return s[k/2]
		}
		return (s[k/2-1] + s[k/2]) / 2
	}
	sorted := append([]float64(nil), walls...)
	sort.Float64s(sorted)
	fmt.Printf("go_peer mode=%s version=%s iterations=%d median_ns=%.1f min_ns=%.1f max_ns=%.1f cpu_ns=%.1f cores=%.3f\n",
		*mode, runtime.Version(), n, median(walls), sorted[0], sorted[len(sorted)-1], median(cpus), median(cores))
}

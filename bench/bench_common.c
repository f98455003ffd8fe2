/* bench/bench_common.c: calibration, repetitions, statistics, machine
 * description, table and JSON for hop's benchmarks (see bench_common.h).
 *
 * Every figure is the median of --repeat repetitions (after a calibration
 * that doubles as warm-up), each long enough (~75 ms) that the clock's
 * resolution and a stray interrupt do not matter. The median rather than the
 * mean: on a shared 2-core VM the noise is one-sided (a repetition can only
 * be slowed down), and the median ignores a few slowed repetitions where the
 * mean would absorb them. */
#define _GNU_SOURCE
#include "bench_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "hop/hop.h"

static const char *bench_program = "bench";

void bench_init(const char *program) { bench_program = program; }

void bench_die(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    fprintf(stderr, "%s: ", bench_program);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        bench_die("getrusage: %s", strerror(errno));
    uint64_t us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                  (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    return us * 1000u;
}

/* CPU time at the two ends of a run function's window; 0: not marked. The
 * marks may come from another thread than the harness's, but never
 * concurrently with the harness reading them: the run function returns
 * after its window closed. */
static _Atomic uint64_t bench_window_cpu0, bench_window_cpu1;

void bench_window_begin(void) { bench_window_cpu0 = bench_cpu_ns(); }

void bench_window_end(void) { bench_window_cpu1 = bench_cpu_ns(); }

/* ---------------------------------------------------------------------------
 * Options. */

void bench_options_init(bench_options_t *o) {
    memset(o, 0, sizeof *o);
    o->target_ns = 75000000u;
}

bool bench_parse_option(bench_options_t *o, int argc, char **argv, int *i) {
    const char *arg = argv[*i];
    if (strcmp(arg, "--quick") == 0) {
        o->quick = true;
    } else if (strcmp(arg, "--repeat") == 0 && *i + 1 < argc) {
        char *end;
        const char *value = argv[++*i];
        long n = strtol(value, &end, 10);
        if (*end || n < 1 || n > 1000)
            bench_die("--repeat wants a count from 1 to 1000, not \"%s\"", value);
        o->repeat = (int)n;
    } else if (strcmp(arg, "--json") == 0 && *i + 1 < argc) {
        o->json_path = argv[++*i];
    } else if (strcmp(arg, "--iterations") == 0 && *i + 1 < argc) {
        char *end;
        const char *value = argv[++*i];
        unsigned long long n = strtoull(value, &end, 10);
        if (*end || n < 1 || value[0] == '-')
            bench_die("--iterations wants a positive count, not \"%s\"", value);
        o->iterations = n;
    } else {
        return false;
    }
    return true;
}

void bench_options_finish(bench_options_t *o, int default_repeat, int quick_repeat) {
    if (o->quick)
        o->target_ns = 20000000u;
    if (o->repeat == 0)
        o->repeat = o->quick ? quick_repeat : default_repeat;
}

/* Whether name contains one of the comma-separated substrings of filter. */
static bool bench_filter_match(const char *name, const char *filter) {
    while (*filter) {
        size_t len = strcspn(filter, ",");
        for (const char *p = name; len && *p; p++)
            if (strncmp(p, filter, len) == 0)
                return true;
        filter += len;
        if (*filter == ',')
            filter++;
    }
    return false;
}

void bench_filter(bench_t *benches, int count, const char *filter) {
    if (!filter)
        return;
    for (int i = 0; i < count; i++)
        if (!bench_filter_match(benches[i].name, filter))
            benches[i].skipped = "filtered out";
}

bool bench_measured(const bench_t *b) { return b->measured; }

static bool bench_filtered_out(const bench_t *b) {
    return b->skipped && strcmp(b->skipped, "filtered out") == 0;
}

/* ---------------------------------------------------------------------------
 * Measuring. */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_sorted(const double *v, int n) {
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static uint64_t bench_scale(uint64_t iters, uint64_t ns, uint64_t target_ns) {
    double scaled = (double)iters * (double)target_ns / (double)(ns ? ns : 1);
    return scaled < 1.0 ? 1 : (uint64_t)scaled;
}

static uint64_t bench_calibrate(const bench_t *b, uint64_t target_ns) {
    /* Grow until a run is long enough to extrapolate from, then scale. The
     * runs on the way are the warm-up: they fault in the stacks, fill hop's
     * and glibc's stack caches, start threads and train the branch
     * predictors. A quarter of the target, not less: the very first
     * pthread_create can take a millisecond, and extrapolating from it would
     * give a tiny count. */
    uint64_t iters = 1, ns;
    for (;;) {
        ns = b->run(b->state, iters);
        if (ns >= target_ns / 4 || iters >= ((uint64_t)1 << 40))
            break;
        iters *= ns < target_ns / 256 ? 16 : 2;
    }
    iters = bench_scale(iters, ns, target_ns);
    /* Warm up at the final size, and correct the count if the first
     * extrapolation was off by more than a factor of two. A row whose single
     * iteration already outlasts the target stays at one iteration: running
     * it again would not change the count. */
    for (int i = 0; i < 3; i++) {
        ns = b->run(b->state, iters);
        if (ns >= target_ns / 2 && ns <= target_ns * 2)
            break;
        uint64_t next = bench_scale(iters, ns, target_ns);
        if (next == iters)
            break;
        iters = next;
    }
    return iters;
}

void bench_set_result(bench_t *b, uint64_t iters, double median_ns, double min_ns, double max_ns,
                      double cpu_ns, double cores) {
    b->iters = iters;
    b->cpu_ns = cpu_ns;
    b->cores = cores;
    if (b->rate) {
        /* A rate is a decreasing function of time: the slowest repetition
         * gives the minimum. */
        b->median = 1e9 / median_ns;
        b->min = 1e9 / max_ns;
        b->max = 1e9 / min_ns;
    } else {
        double unit = b->unit_ns > 0 ? b->unit_ns : 1.0;
        b->median = median_ns / unit;
        b->min = min_ns / unit;
        b->max = max_ns / unit;
    }
    b->measured = true;
}

static void bench_measure(bench_t *b, const bench_options_t *o, int index, int count) {
    if (b->external) {
        fprintf(stderr, "[%d/%d] %s, %s: measuring\n", index, count, b->workload, b->peer);
        const char *why = b->external(b, o);
        if (why) {
            b->skipped = why;
            fprintf(stderr, "[%d/%d] %s, %s: skipped (%s)\n", index, count, b->workload, b->peer, why);
        }
        return;
    }
    if (o->iterations) {
        b->iters = o->iterations;
    } else {
        fprintf(stderr, "[%d/%d] %s, %s: calibrating\n", index, count, b->workload, b->peer);
        b->iters = bench_calibrate(b, o->target_ns);
    }
    fprintf(stderr, "[%d/%d] %s, %s: %d x %llu iterations\n", index, count, b->workload, b->peer, o->repeat,
            (unsigned long long)b->iters);

    int n = o->repeat;
    double *ns_per_unit = malloc(sizeof(double) * (size_t)n * 3);
    if (!ns_per_unit)
        bench_die("out of memory");
    double *cpu_per_unit = ns_per_unit + n, *cores = ns_per_unit + 2 * n;
    double units = (double)b->iters * b->units_per_iter;
    for (int r = 0; r < n; r++) {
        bench_window_cpu0 = bench_window_cpu1 = 0;
        uint64_t cpu0 = bench_cpu_ns();
        uint64_t ns = b->run(b->state, b->iters);
        uint64_t cpu = bench_cpu_ns() - cpu0;
        if (bench_window_cpu0 && bench_window_cpu1 >= bench_window_cpu0)
            cpu = bench_window_cpu1 - bench_window_cpu0;
        ns_per_unit[r] = (double)ns / units;
        cpu_per_unit[r] = (double)cpu / units;
        cores[r] = (double)cpu / (double)(ns ? ns : 1);
    }
    qsort(ns_per_unit, (size_t)n, sizeof(double), cmp_double);
    qsort(cpu_per_unit, (size_t)n, sizeof(double), cmp_double);
    qsort(cores, (size_t)n, sizeof(double), cmp_double);
    bench_set_result(b, b->iters, median_sorted(ns_per_unit, n), ns_per_unit[0], ns_per_unit[n - 1],
                     median_sorted(cpu_per_unit, n), median_sorted(cores, n));
    free(ns_per_unit);
}

void bench_run_all(bench_t *benches, int count, const bench_options_t *o) {
    int to_run = 0;
    for (int i = 0; i < count; i++) {
        bench_t *b = &benches[i];
        if (!b->skipped && !b->run && !b->external)
            b->skipped = "not installed";
        to_run += b->skipped == NULL;
    }
    int index = 0;
    for (int i = 0; i < count; i++) {
        bench_t *b = &benches[i];
        if (!b->skipped)
            bench_measure(b, o, ++index, to_run);
        else if (!bench_filtered_out(b))
            fprintf(stderr, "[-] %s, %s: skipped (%s)\n", b->workload, b->peer, b->skipped);
    }
}

double bench_ratio(const bench_t *b, const bench_t *ref) {
    if (!b->measured || !ref->measured)
        return 0.0;
    return b->rate ? ref->median / b->median : b->median / ref->median;
}

/* ---------------------------------------------------------------------------
 * Machine. */

void bench_machine(bench_machine_t *m) {
    snprintf(m->cpu, sizeof m->cpu, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) != 0)
                continue;
            char *v = strchr(line, ':');
            if (!v)
                continue;
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(m->cpu, sizeof m->cpu, "%s", v);
            break;
        }
        fclose(f);
    }
    m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    double load[1];
    m->load1 = getloadavg(load, 1) == 1 ? load[0] : -1.0;
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(m->kernel, sizeof m->kernel, "unknown");
}

/* ---------------------------------------------------------------------------
 * Table. */

const char *bench_format_cpu(char *buf, size_t size, double ns) {
    if (ns < 1e3)
        snprintf(buf, size, "%.1f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, size, "%.2f us", ns / 1e3);
    else
        snprintf(buf, size, "%.2f ms", ns / 1e6);
    return buf;
}

/* The first measured row of b's workload, or NULL. */
static const bench_t *bench_reference(const bench_t *benches, int count, const bench_t *b) {
    for (int i = 0; i < count; i++)
        if (benches[i].measured && strcmp(benches[i].workload, b->workload) == 0)
            return &benches[i];
    return NULL;
}

static int max_int(int a, int b) { return a > b ? a : b; }

void bench_print_table(FILE *f, const bench_t *benches, int count) {
    int ww = (int)strlen("workload"), pw = (int)strlen("peer"), uw = (int)strlen("unit");
    for (int i = 0; i < count; i++) {
        if (bench_filtered_out(&benches[i]))
            continue;
        ww = max_int(ww, (int)strlen(benches[i].workload));
        pw = max_int(pw, (int)strlen(benches[i].peer));
        uw = max_int(uw, (int)strlen(benches[i].unit));
    }
    fprintf(f, "%-*s %-*s %13s %13s %13s  %-*s %11s %6s %7s\n", ww, "workload", pw, "peer", "median", "min",
            "max", uw, "unit", "cpu/op", "cores", "ratio");
    for (int i = 0; i < count; i++) {
        const bench_t *b = &benches[i];
        if (bench_filtered_out(b))
            continue;
        if (!b->measured) {
            char why[128];
            snprintf(why, sizeof why, "skipped (%s)", b->skipped ? b->skipped : "not installed");
            fprintf(f, "%-*s %-*s %41s  %-*s %11s %6s %7s\n", ww, b->workload, pw, b->peer, why, uw, b->unit,
                    "-", "-", "-");
            continue;
        }
        const bench_t *ref = bench_reference(benches, count, b);
        char cpu[32];
        bench_format_cpu(cpu, sizeof cpu, b->cpu_ns);
        const char *number = b->rate ? "%-*s %-*s %13.0f %13.0f %13.0f  %-*s %11s %6.2f %7.2f\n"
                                     : "%-*s %-*s %13.2f %13.2f %13.2f  %-*s %11s %6.2f %7.2f\n";
        fprintf(f, number, ww, b->workload, pw, b->peer, b->median, b->min, b->max, uw, b->unit, cpu,
                b->cores, bench_ratio(b, ref));
    }
}

/* ---------------------------------------------------------------------------
 * JSON. */

void bench_json_write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

FILE *bench_json_begin(const char *path, const char *benchmark) {
    FILE *f = fopen(path, "w");
    if (!f)
        bench_die("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "{\n  \"benchmark\": ");
    bench_json_write_string(f, benchmark);
    fprintf(f, ",\n  \"hop_version\": ");
    bench_json_write_string(f, hop_version_string());
    return f;
}

void bench_json_string(FILE *f, const char *key, const char *value) {
    fprintf(f, ",\n  ");
    bench_json_write_string(f, key);
    fprintf(f, ": ");
    bench_json_write_string(f, value);
}

void bench_json_raw(FILE *f, const char *key, const char *format, ...) {
    fprintf(f, ",\n  ");
    bench_json_write_string(f, key);
    fprintf(f, ": ");
    va_list ap;
    va_start(ap, format);
    vfprintf(f, format, ap);
    va_end(ap);
}

void bench_json_common(FILE *f, const bench_options_t *o, const bench_machine_t *m) {
    fprintf(f, ",\n  \"repeat\": %d,\n  \"target_ms_per_repetition\": %.0f,\n  \"quick\": %s", o->repeat,
            (double)o->target_ns / 1e6, o->quick ? "true" : "false");
    fprintf(f, ",\n  \"machine\": {\n    \"cpu_model\": ");
    bench_json_write_string(f, m->cpu);
    fprintf(f, ",\n    \"nproc\": %ld,\n    \"kernel\": ", m->nproc);
    bench_json_write_string(f, m->kernel);
    fprintf(f, ",\n    \"compiler\": ");
    bench_json_write_string(f, BENCH_COMPILER);
    fprintf(f, ",\n    \"load_average_1min_at_start\": %.2f", m->load1);
    fprintf(f, "\n  }");
}

void bench_json_results(FILE *f, const bench_t *benches, int count) {
    fprintf(f, ",\n  \"results\": [");
    bool first = true;
    for (int i = 0; i < count; i++) {
        const bench_t *b = &benches[i];
        if (bench_filtered_out(b))
            continue;
        fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
        first = false;
        bench_json_write_string(f, b->name);
        fprintf(f, ", \"unit\": ");
        bench_json_write_string(f, b->unit);
        if (b->measured) {
            fprintf(f,
                    ", \"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"iterations\": %llu, "
                    "\"cpu_ns_per_op\": %.2f, \"cores\": %.3f}",
                    b->median, b->min, b->max, (unsigned long long)b->iters, b->cpu_ns, b->cores);
        } else {
            fprintf(f, ", \"median\": null, \"min\": null, \"max\": null, \"skipped\": ");
            bench_json_write_string(f, b->skipped ? b->skipped : "not installed");
            fputc('}', f);
        }
    }
    fprintf(f, "\n  ]");
}

void bench_json_summary_begin(FILE *f) { fprintf(f, ",\n  \"summary\": {\n"); }

void bench_json_end(FILE *f, const char *path) {
    fprintf(f, "\n  }\n}\n");
    if (fclose(f) != 0)
        bench_die("writing %s failed", path);
}

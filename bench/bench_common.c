/* bench/bench_common.c: calibration, repetitions, statistics, machine
 * description, table, child processes for hop-bench (see bench_common.h).
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
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
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
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads[0] = n > 0 && n < 1024 ? (unsigned int)n : 2;
    o->nthreads = 1;
}

static void bench_parse_threads(bench_options_t *o, const char *value) {
    o->nthreads = 0;
    const char *p = value;
    while (*p) {
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p || n < 1 || n > 256 || (*end && *end != ','))
            bench_die("--threads wants a list of counts from 1 to 256 like 1,2,4, not \"%s\"", value);
        if (o->nthreads == (int)(sizeof o->threads / sizeof o->threads[0]))
            bench_die("--threads: at most %zu counts", sizeof o->threads / sizeof o->threads[0]);
        o->threads[o->nthreads++] = (unsigned int)n;
        p = *end ? end + 1 : end;
    }
    if (o->nthreads == 0)
        bench_die("--threads wants a list of counts like 1,2,4");
}

bool bench_parse_option(bench_options_t *o, int argc, char **argv, int *i) {
    const char *arg = argv[*i];
    bool has_value = *i + 1 < argc;
    if (strcmp(arg, "--quick") == 0) {
        o->quick = true;
        o->full = false;
    } else if (strcmp(arg, "--full") == 0) {
        o->full = true;
        o->quick = false;
    } else if (strcmp(arg, "--repeat") == 0 && has_value) {
        char *end;
        const char *value = argv[++*i];
        long n = strtol(value, &end, 10);
        if (*end || n < 1 || n > 1000)
            bench_die("--repeat wants a count from 1 to 1000, not \"%s\"", value);
        o->repeat = (int)n;
    } else if (strcmp(arg, "--json") == 0 && has_value) {
        o->json_path = argv[++*i];
    } else if (strcmp(arg, "--plot") == 0 && has_value) {
        o->plot_dir = argv[++*i];
    } else if (strcmp(arg, "--filter") == 0 && has_value) {
        o->filter = argv[++*i];
    } else if (strcmp(arg, "--threads") == 0 && has_value) {
        bench_parse_threads(o, argv[++*i]);
    } else if (strcmp(arg, "--load") == 0 && has_value) {
        char *end;
        const char *value = argv[++*i];
        long n = strtol(value, &end, 10);
        if (*end || n < 0 || n > 64)
            bench_die("--load wants a count of CPU-bound processes from 0 to 64, not \"%s\"", value);
        o->load = (int)n;
    } else if (strcmp(arg, "--iterations") == 0 && has_value) {
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

void bench_options_finish(bench_options_t *o) {
    o->target_ns = o->quick ? 20000000u : 75000000u;
    if (o->repeat == 0)
        o->repeat = o->quick ? 5 : 11;
}

bool bench_filter_match(const char *name, const char *filter) {
    if (!filter)
        return true;
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

bool bench_filtered_out(const bench_t *b) { return b->skipped && strcmp(b->skipped, "filtered out") == 0; }

/* ---------------------------------------------------------------------------
 * Measuring. */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static uint64_t bench_scale(uint64_t iters, uint64_t ns, uint64_t target_ns) {
    double scaled = (double)iters * (double)target_ns / (double)(ns ? ns : 1);
    return scaled < 1.0 ? 1 : (uint64_t)scaled;
}

static uint64_t bench_calibrate(const bench_t *b, uint64_t target_ns, uint64_t *last_ns) {
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
    uint64_t last = iters;
    iters = bench_scale(iters, ns, target_ns);
    /* Warm up at the final size, and correct the count if the first
     * extrapolation was off by more than a factor of two. A row whose single
     * iteration already outlasts the target stays at one iteration, and the
     * run that showed it was its warm-up. */
    for (int i = 0; i < 3 && iters != last; i++) {
        ns = b->run(b->state, iters);
        if (ns >= target_ns / 2 && ns <= target_ns * 2)
            break;
        last = iters;
        iters = bench_scale(iters, ns, target_ns);
    }
    *last_ns = ns;
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

void bench_set_values(bench_t *b, uint64_t iters, double median, double min, double max) {
    b->iters = iters;
    b->median = median;
    b->min = min;
    b->max = max;
    b->cpu_ns = -1;
    b->cores = -1;
    b->measured = true;
}

void bench_measure(bench_t *b, const bench_options_t *o, int index, int count) {
    char thr[32] = "";
    if (b->threads)
        snprintf(thr, sizeof thr, " [%u thr]", b->threads);
    if (b->external) {
        fprintf(stderr, "[%d/%d] %s, %s%s: measuring\n", index, count, b->workload, b->peer, thr);
        const char *why = b->external(b, o);
        if (why) {
            b->skipped = why;
            fprintf(stderr, "[%d/%d] %s, %s%s: skipped (%s)\n", index, count, b->workload, b->peer, thr, why);
        }
        return;
    }
    int n = o->repeat;
    if (o->iterations) {
        b->iters = o->iterations;
    } else {
        fprintf(stderr, "[%d/%d] %s, %s%s: calibrating\n", index, count, b->workload, b->peer, thr);
        uint64_t ns;
        b->iters = bench_calibrate(b, o->target_ns, &ns);
        /* One iteration far longer than a repetition should be (fork-join
         * in --quick): three repetitions are enough to see the spread. */
        if (b->iters == 1 && ns > 4 * o->target_ns && n > 3)
            n = 3;
    }
    fprintf(stderr, "[%d/%d] %s, %s%s: %d x %llu iterations\n", index, count, b->workload, b->peer, thr, n,
            (unsigned long long)b->iters);

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
    double cpu_median = bench_median(cpu_per_unit, n), cores_median = bench_median(cores, n);
    double median = bench_median(ns_per_unit, n);
    bench_set_result(b, b->iters, median, ns_per_unit[0], ns_per_unit[n - 1], cpu_median, cores_median);
    free(ns_per_unit);
}

/* ---------------------------------------------------------------------------
 * Ratios. */

double bench_cost(const bench_t *b) { return b->rate ? 1.0 / b->median : b->median; }

static bool bench_same_group(const bench_t *a, const bench_t *b) {
    return strcmp(a->workload, b->workload) == 0 && (a->threads == b->threads || !a->threads || !b->threads);
}

void bench_compute_ratios(bench_t *benches, int count) {
    for (int i = 0; i < count; i++) {
        bench_t *b = &benches[i];
        b->ratio = 0;
        if (!b->measured)
            continue;
        const bench_t *best = NULL;
        for (int j = 0; j < count; j++) {
            const bench_t *p = &benches[j];
            if (p->measured && p->role == BENCH_PEER && bench_same_group(b, p) &&
                (!best || bench_cost(p) < bench_cost(best)))
                best = p;
        }
        if (best)
            b->ratio = bench_cost(b) / bench_cost(best);
    }
}

const bench_t *bench_find(const bench_t *benches, int count, const char *name, unsigned int threads) {
    for (int i = 0; i < count; i++)
        if (strcmp(benches[i].name, name) == 0 && (benches[i].threads == threads || !benches[i].threads))
            return &benches[i];
    return NULL;
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
    if (ns < 0)
        snprintf(buf, size, "-");
    else if (ns < 1e3)
        snprintf(buf, size, "%.1f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, size, "%.2f us", ns / 1e3);
    else
        snprintf(buf, size, "%.2f ms", ns / 1e6);
    return buf;
}

static int max_int(int a, int b) { return a > b ? a : b; }

const char *bench_format_figure(char *buf, size_t size, double v) {
    double a = v < 0 ? -v : v;
    if (a >= 1e5)
        snprintf(buf, size, "%.0f", v);
    else if (a >= 100)
        snprintf(buf, size, "%.1f", v);
    else if (a >= 1)
        snprintf(buf, size, "%.2f", v);
    else
        snprintf(buf, size, "%.4f", v);
    return buf;
}

const char *bench_format_short(char *buf, size_t size, double v) {
    if (v >= 1e9)
        snprintf(buf, size, "%.3g G", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, size, "%.3g M", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, size, "%.3g k", v / 1e3);
    else
        snprintf(buf, size, "%.3g", v);
    return buf;
}

void bench_print_table(FILE *f, const bench_t *benches, int count) {
    int ww = (int)strlen("workload"), pw = (int)strlen("implementation"), uw = (int)strlen("unit");
    for (int i = 0; i < count; i++) {
        if (bench_filtered_out(&benches[i]))
            continue;
        ww = max_int(ww, (int)strlen(benches[i].workload));
        pw = max_int(pw, (int)strlen(benches[i].peer) + 2);
        uw = max_int(uw, (int)strlen(benches[i].unit));
    }
    fprintf(f, "%-*s %3s  %-*s %12s %12s %12s  %-*s %10s %5s  %s\n", ww, "workload", "thr", pw,
            "implementation", "median", "min", "max", uw, "unit", "cpu/op", "cores", "vs best peer");
    const char *last = NULL;
    for (int i = 0; i < count; i++) {
        const bench_t *b = &benches[i];
        if (bench_filtered_out(b))
            continue;
        if (last && strcmp(last, b->workload) != 0)
            fputc('\n', f);
        last = b->workload;
        char label[160], thr[16] = "-";
        snprintf(label, sizeof label, "%s%s", b->role == BENCH_HOP ? "* " : "  ", b->peer);
        if (b->threads)
            snprintf(thr, sizeof thr, "%u", b->threads);
        if (!b->measured) {
            char why[160];
            snprintf(why, sizeof why, "skipped (%s)", b->skipped ? b->skipped : "not installed");
            fprintf(f, "%-*s %3s  %-*s %38s  %-*s\n", ww, b->workload, thr, pw, label, why, uw, b->unit);
            continue;
        }
        char med[32], mn[32], mx[32], cpu[32], cores[16], ratio[48];
        bench_format_figure(med, sizeof med, b->median);
        bench_format_figure(mn, sizeof mn, b->min);
        bench_format_figure(mx, sizeof mx, b->max);
        bench_format_cpu(cpu, sizeof cpu, b->cpu_ns);
        if (b->cores >= 0)
            snprintf(cores, sizeof cores, "%.2f", b->cores);
        else
            snprintf(cores, sizeof cores, "-");
        if (b->ratio <= 0)
            snprintf(ratio, sizeof ratio, "-");
        else if (b->role == BENCH_PEER && b->ratio > 0.9999 && b->ratio < 1.0001)
            snprintf(ratio, sizeof ratio, "1.00 (best peer)");
        else if (b->ratio < 1)
            snprintf(ratio, sizeof ratio, "%.3g (%.3gx better)", b->ratio, 1.0 / b->ratio);
        else
            snprintf(ratio, sizeof ratio, "%.3g", b->ratio);
        fprintf(f, "%-*s %3s  %-*s %12s %12s %12s  %-*s %10s %5s  %s\n", ww, b->workload, thr, pw, label, med,
                mn, mx, uw, b->unit, cpu, cores, ratio);
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

/* ---------------------------------------------------------------------------
 * Child processes: peers in other languages, and rows isolated in a
 * process of their own. */

extern char **environ;

const char *bench_run_process(char *const argv[], char *const extra_env[], char *out, size_t size) {
    static char why[512];
    size_t nenv = 0, nextra = 0;
    while (environ[nenv])
        nenv++;
    while (extra_env && extra_env[nextra])
        nextra++;
    char **envp = calloc(nenv + nextra + 1, sizeof *envp);
    if (!envp)
        bench_die("out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nextra; i++)
        envp[k++] = extra_env[i];
    for (size_t i = 0; i < nenv; i++) {
        /* An extra NAME=value replaces the inherited one. */
        size_t len = strcspn(environ[i], "=");
        bool replaced = false;
        for (size_t j = 0; j < nextra; j++)
            if (strncmp(extra_env[j], environ[i], len + 1) == 0)
                replaced = true;
        if (!replaced)
            envp[k++] = environ[i];
    }
    envp[k] = NULL;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        bench_die("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    free(envp);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        if (err == ENOENT)
            return "not installed";
        snprintf(why, sizeof why, "%s: %s", argv[0], strerror(err));
        return why;
    }
    size_t len = 0;
    for (;;) {
        char discard[4096];
        char *into = len < size - 1 ? out + len : discard;
        size_t room = len < size - 1 ? size - 1 - len : sizeof discard;
        ssize_t n = read(fds[0], into, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (into != discard)
            len += (size_t)n;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return "not installed";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof why, "%s failed (%s %d)", argv[0], WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return why;
    }
    return NULL;
}

/* The extras: a few per row at most, in a small table. */
static struct {
    char row[64], key[32];
    double value;
} bench_extras[64];
static int bench_nextras;

void bench_extra_set(const char *row, const char *key, double value) {
    for (int i = 0; i < bench_nextras; i++)
        if (strcmp(bench_extras[i].row, row) == 0 && strcmp(bench_extras[i].key, key) == 0) {
            bench_extras[i].value = value;
            return;
        }
    if (bench_nextras == (int)(sizeof bench_extras / sizeof bench_extras[0]))
        bench_die("too many extra figures (row %s, %s)", row, key);
    snprintf(bench_extras[bench_nextras].row, sizeof bench_extras[0].row, "%s", row);
    snprintf(bench_extras[bench_nextras].key, sizeof bench_extras[0].key, "%s", key);
    bench_extras[bench_nextras++].value = value;
}

bool bench_extra_get(const char *row, const char *key, double *value) {
    for (int i = 0; i < bench_nextras; i++)
        if (strcmp(bench_extras[i].row, row) == 0 && strcmp(bench_extras[i].key, key) == 0) {
            *value = bench_extras[i].value;
            return true;
        }
    return false;
}

void bench_extras_format(const char *row, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < bench_nextras && used < size; i++)
        if (strcmp(bench_extras[i].row, row) == 0)
            used += (size_t)snprintf(buf + used, size - used, " extra.%s=%.9g", bench_extras[i].key,
                                     bench_extras[i].value);
}

const char *bench_parse_result_line(bench_t *b, const char *out, const char *prefix, char *version,
                                    size_t version_size) {
    static char why[256];
    const char *start = out;
    size_t plen = strlen(prefix);
    while (start && strncmp(start, prefix, plen) != 0) {
        start = strchr(start, '\n');
        if (start)
            start++;
    }
    if (!start) {
        snprintf(why, sizeof why, "no \"%s\" line in its output", prefix);
        return why;
    }
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(start, "\n"), start);
    double median_ns = 0, min_ns = 0, max_ns = 0, cpu = -1, cores = -1, median = 0, min = 0, max = 0;
    unsigned long long iters = 0;
    char *save;
    for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (strcmp(k, "median_ns") == 0)
            median_ns = strtod(v, NULL);
        else if (strcmp(k, "min_ns") == 0)
            min_ns = strtod(v, NULL);
        else if (strcmp(k, "max_ns") == 0)
            max_ns = strtod(v, NULL);
        else if (strcmp(k, "median") == 0)
            median = strtod(v, NULL);
        else if (strcmp(k, "min") == 0)
            min = strtod(v, NULL);
        else if (strcmp(k, "max") == 0)
            max = strtod(v, NULL);
        else if (strcmp(k, "cpu_ns") == 0)
            cpu = strtod(v, NULL);
        else if (strcmp(k, "cores") == 0)
            cores = strtod(v, NULL);
        else if (strcmp(k, "iterations") == 0)
            iters = strtoull(v, NULL, 10);
        else if (strcmp(k, "version") == 0 && version)
            snprintf(version, version_size, "%s", v);
        else if (strncmp(k, "extra.", 6) == 0)
            bench_extra_set(b->name, k + 6, strtod(v, NULL));
    }
    if (median > 0 && min > 0 && max > 0) {
        bench_set_values(b, iters, median, min, max);
        b->cpu_ns = cpu;
        b->cores = cores;
        return NULL;
    }
    if (median_ns > 0 && min_ns > 0 && max_ns > 0) {
        bench_set_result(b, iters, median_ns, min_ns, max_ns, cpu, cores);
        return NULL;
    }
    snprintf(why, sizeof why, "unreadable \"%s\" line", prefix);
    return why;
}

/* bench/hop_bench.c: hop-bench, hop and its peers side by side, on the same
 * machine in the same run. The workloads are in workloads/, the peers
 * written here in peers/, the shared machinery in bench_common.c and
 * bench_env.c; bench/README.md says exactly what each row measures.
 *
 * Output: progress on stderr; on stdout the table (median, min, max, CPU
 * per operation, cores busy, cost relative to the best peer), the targets
 * (met / MISSED with the measured ratio) and hop's counters; --json FILE
 * writes the same with the machine's description; --plot DIR draws one
 * chart per workload with gnuplot. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "bench_env.h"

#if defined(HOP_BENCH_REVISION_HEADER)
#include HOP_BENCH_REVISION_HEADER
#endif
#ifndef HOP_BENCH_REVISION
#define HOP_BENCH_REVISION HOP_BENCH_GIT_REVISION
#endif

static void usage(FILE *f) {
    fprintf(f,
            "usage: hop-bench [--quick | --full] [--list] [--filter S1,S2] [--threads 1,2,4] [--repeat N]\n"
            "                 [--json FILE] [--plot DIR] [--iterations N] [--load N]\n"
            "                 [--fp-flags-differ]\n"
            "  --quick          5 repetitions of ~20 ms per row: about a minute on 2 cores\n"
            "  --full           11 repetitions of ~75 ms per row (the default)\n"
            "  --list           print the rows (name, workload, threads, implementation) and exit\n"
            "  --filter S1,S2   only the rows whose name contains one of the substrings\n"
            "                   (switch, spawn_join, roundtrip, offload, fanout, pingpong, forkjoin, io,\n"
            "                   memory, idle, hop, uv, go, tbb, asyncio, pthread, ...)\n"
            "  --threads LIST   worker threads of hop's pool and of every peer's pool; thread-dependent\n"
            "                   rows are measured once per count (default: the online CPUs)\n"
            "  --repeat N       repetitions per row, the median is reported\n"
            "  --json FILE      also write the figures, the targets and the machine to FILE\n"
            "  --plot DIR       draw one chart per workload into DIR with gnuplot (PNG, or SVG)\n"
            "  --iterations N   N iterations per repetition, no calibration (for callgrind)\n"
            "  --load N         run N CPU-bound processes beside every row (started before the row,\n"
            "                   killed after it): hop and its peers on an oversubscribed machine\n"
            "  --fp-flags-differ  switch between contexts whose MXCSR exception flags differ\n"
            "Environment: HOP_BENCH_PYTHON (default python3) runs peers/asyncio_peer.py; `go` on PATH\n"
            "builds peers/go into the build folder on first use.\n");
}

/* ---------------------------------------------------------------------------
 * Rows measured in a child process (isolate): hop-bench --child NAME. */

static const char *isolated_external(bench_t *b, const bench_options_t *o) {
    char threads[16], repeat[16], iterations[32];
    snprintf(threads, sizeof threads, "%u", b->threads ? b->threads : o->threads[0]);
    snprintf(repeat, sizeof repeat, "%d", o->repeat);
    snprintf(iterations, sizeof iterations, "%llu", (unsigned long long)o->iterations);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)bench_self_path();
    argv[n++] = "--child";
    argv[n++] = (char *)b->name;
    argv[n++] = "--threads";
    argv[n++] = threads;
    argv[n++] = "--repeat";
    argv[n++] = repeat;
    argv[n++] = o->quick ? "--quick" : "--full";
    if (o->iterations) {
        argv[n++] = "--iterations";
        argv[n++] = iterations;
    }
    argv[n] = NULL;
    char out[4096];
    const char *err = bench_run_process(argv, NULL, out, sizeof out);
    if (err)
        return err;
    return bench_parse_result_line(b, out, "hop-bench-child ", NULL, 0);
}

static int run_child(bench_t *rows, int count, const char *name, const bench_options_t *o) {
    for (int i = 0; i < count; i++) {
        bench_t *b = &rows[i];
        if (strcmp(b->name, name) != 0 || (b->threads && b->threads != o->threads[0]))
            continue;
        bench_current_threads = o->threads[0];
        bench_env_require(b->needs, o->threads[0]);
        b->isolate = false;
        bench_measure(b, o, 1, 1);
        if (!b->measured)
            bench_die("--child %s: not measured (%s)", name, b->skipped ? b->skipped : "?");
        char extras[1024];
        bench_extras_format(b->name, extras, sizeof extras);
        printf("hop-bench-child iterations=%llu median=%.9g min=%.9g max=%.9g cpu_ns=%.3f cores=%.4f%s\n",
               (unsigned long long)b->iters, b->median, b->min, b->max, b->cpu_ns, b->cores, extras);
        fflush(stdout);
        bench_env_release();
        return 0;
    }
    bench_die("--child: no row named %s", name);
}

/* ---------------------------------------------------------------------------
 * Targets. */

typedef struct {
    const bench_target_t *t;
    unsigned int threads;
    const bench_t *hop, *other;
    const char *status; /* "met", "MISSED", "not measured" */
    const char *why;
    double speedup; /* cost(other) / cost(hop) */
} target_result_t;

static target_result_t target_results[256];
static int ntarget_results;

static void evaluate_targets(const bench_t *rows, int count, const bench_options_t *o) {
    for (int k = 0; k < bench_ntargets; k++) {
        const bench_target_t *t = &bench_targets[k];
        if (t->under_load && o->load == 0)
            continue;
        for (int i = 0; i < o->nthreads; i++) {
            const bench_t *hop = bench_find(rows, count, t->hop, o->threads[i]);
            if (!hop || bench_filtered_out(hop) || (!hop->threads && i > 0))
                continue;
            target_result_t *r = &target_results[ntarget_results++];
            *r = (target_result_t){.t = t, .threads = hop->threads, .hop = hop, .status = "not measured"};
            if (!hop->measured) {
                r->why = hop->skipped ? hop->skipped : "hop's row was not measured";
                continue;
            }
            if (!t->other) {
                r->status = hop->median <= t->max_value ? "met" : "MISSED";
                continue;
            }
            r->other = bench_find(rows, count, t->other, o->threads[i]);
            if (!r->other) {
                r->why = "no such peer in this harness";
                continue;
            }
            if (!r->other->measured) {
                r->why = r->other->skipped ? r->other->skipped : "peer not measured";
                if (strcmp(r->why, "filtered out") == 0)
                    r->why = "peer filtered out";
                continue;
            }
            r->speedup = bench_cost(r->other) / bench_cost(hop);
            r->status = r->speedup >= t->min_speedup * (1 - 1e-9) ? "met" : "MISSED";
        }
    }
}

static const char *speed_text(char *buf, size_t size, double speedup) {
    if (speedup >= 1)
        snprintf(buf, size, "%.3gx faster", speedup);
    else
        snprintf(buf, size, "%.3gx slower", 1 / speedup);
    return buf;
}

static void print_targets(FILE *f) {
    if (!ntarget_results)
        return;
    fprintf(f, "targets (ratios measured in this run):\n");
    for (int i = 0; i < ntarget_results; i++) {
        const target_result_t *r = &target_results[i];
        char thr[32] = "";
        if (r->threads)
            snprintf(thr, sizeof thr, " [%u thr]", r->threads);
        fprintf(f, "  %-12s %-10s %s%s", r->status, r->t->workload, r->t->text, thr);
        if (strcmp(r->status, "not measured") == 0) {
            fprintf(f, ": %s\n", r->why);
            continue;
        }
        if (!r->t->other) {
            char v[32];
            fprintf(f, ": %s %s (need <= %g)\n", bench_format_figure(v, sizeof v, r->hop->median), r->hop->unit,
                    r->t->max_value);
            continue;
        }
        char got[32], need[32], c1[32], c2[32], v1[32], v2[32];
        speed_text(got, sizeof got, r->speedup);
        speed_text(need, sizeof need, r->t->min_speedup);
        fprintf(f, ": hop %s vs %s %s -> hop %s (need %s%s)", bench_format_figure(v1, sizeof v1, r->hop->median),
                bench_format_figure(v2, sizeof v2, r->other->median), r->hop->unit, got,
                r->t->min_speedup >= 1 ? "at least " : "at most ", need);
        if (r->hop->cpu_ns >= 0 && r->other->cpu_ns >= 0)
            fprintf(f, "; cpu/op hop %s, peer %s", bench_format_cpu(c1, sizeof c1, r->hop->cpu_ns),
                    bench_format_cpu(c2, sizeof c2, r->other->cpu_ns));
        fputc('\n', f);
    }
}

/* ---------------------------------------------------------------------------
 * JSON. */

static void json_key(FILE *f, const char *indent, const char *key) {
    fprintf(f, "%s", indent);
    bench_json_write_string(f, key);
    fprintf(f, ": ");
}

static void json_str(FILE *f, const char *indent, const char *key, const char *value, bool comma) {
    json_key(f, indent, key);
    bench_json_write_string(f, value);
    fprintf(f, "%s\n", comma ? "," : "");
}

static void write_json(const char *path, const bench_t *rows, int count, const bench_options_t *o,
                       const bench_machine_t *m, int argc, char **argv) {
    FILE *f = fopen(path, "w");
    if (!f)
        bench_die("cannot write %s: %s", path, strerror(errno));
    char command[2048] = "";
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(command);
        snprintf(command + len, sizeof command - len, "%s%s", i ? " " : "", argv[i]);
    }
    fprintf(f, "{\n");
    json_str(f, "  ", "benchmark", "hop-bench", true);
    json_str(f, "  ", "hop_version", hop_version_string(), true);
    json_str(f, "  ", "hop_git_revision", HOP_BENCH_REVISION, true);
    json_str(f, "  ", "hop_context_backend", bench_hop_backend, true);
    json_str(f, "  ", "command", command, true);
    fprintf(f,
            "  \"options\": {\"quick\": %s, \"full\": %s, \"repeat\": %d, \"target_ms_per_repetition\": %.0f, "
            "\"load\": %d, ",
            o->quick ? "true" : "false", o->quick ? "false" : "true", o->repeat, (double)o->target_ns / 1e6, o->load);
    fprintf(f, "\"threads\": [");
    for (int i = 0; i < o->nthreads; i++)
        fprintf(f, "%s%u", i ? ", " : "", o->threads[i]);
    fprintf(f, "], \"filter\": ");
    if (o->filter)
        bench_json_write_string(f, o->filter);
    else
        fprintf(f, "null");
    fprintf(f, ", \"iterations\": %llu},\n", (unsigned long long)o->iterations);
    fprintf(f, "  \"machine\": {\n");
    json_str(f, "    ", "cpu_model", m->cpu, true);
    fprintf(f, "    \"cores\": %ld,\n", m->nproc);
    json_str(f, "    ", "kernel", m->kernel, true);
    json_str(f, "    ", "compiler", BENCH_COMPILER, true);
    json_str(f, "    ", "libuv_version", uv_version_string(), true);
    json_str(f, "    ", "boost_context", bench_boost_context, true);
    json_str(f, "    ", "tbb", bench_tbb_version, true);
    json_str(f, "    ", "go", bench_go_version[0] ? bench_go_version : "not run", true);
    json_str(f, "    ", "python", bench_python_version[0] ? bench_python_version : "not run", true);
    fprintf(f, "    \"load_average_1min_at_start\": %.2f\n  },\n", m->load1);
    fprintf(f, "  \"results\": [");
    const char *sep = "";
    for (int i = 0; i < count; i++) {
        const bench_t *b = &rows[i];
        if (bench_filtered_out(b))
            continue;
        fprintf(f, "%s\n    {\"name\": ", sep);
        sep = ",";
        bench_json_write_string(f, b->name);
        fprintf(f, ", \"workload\": ");
        bench_json_write_string(f, b->workload);
        fprintf(f, ", \"implementation\": ");
        bench_json_write_string(f, b->peer);
        fprintf(f, ", \"role\": \"%s\", \"threads\": %u, \"unit\": ",
                b->role == BENCH_HOP ? "hop" : b->role == BENCH_PEER ? "peer" : "reference", b->threads);
        bench_json_write_string(f, b->unit);
        fprintf(f, ", \"higher_is_better\": %s", b->rate ? "true" : "false");
        if (b->measured) {
            fprintf(f, ", \"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"iterations\": %llu", b->median, b->min,
                    b->max, (unsigned long long)b->iters);
            if (b->cpu_ns >= 0)
                fprintf(f, ", \"cpu_ns_per_op\": %.2f, \"cores\": %.3f", b->cpu_ns, b->cores);
            else
                fprintf(f, ", \"cpu_ns_per_op\": null, \"cores\": null");
            if (b->ratio > 0)
                fprintf(f, ", \"cost_vs_best_peer\": %.4f}", b->ratio);
            else
                fprintf(f, ", \"cost_vs_best_peer\": null}");
        } else {
            fprintf(f, ", \"median\": null, \"skipped\": ");
            bench_json_write_string(f, b->skipped ? b->skipped : "not installed");
            fputc('}', f);
        }
    }
    fprintf(f, "\n  ],\n  \"targets\": [");
    for (int i = 0; i < ntarget_results; i++) {
        const target_result_t *r = &target_results[i];
        fprintf(f, "%s\n    {\"workload\": ", i ? "," : "");
        bench_json_write_string(f, r->t->workload);
        fprintf(f, ", \"target\": ");
        bench_json_write_string(f, r->t->text);
        fprintf(f, ", \"threads\": %u, \"hop_row\": ", r->threads);
        bench_json_write_string(f, r->t->hop);
        fprintf(f, ", \"peer_row\": ");
        if (r->t->other)
            bench_json_write_string(f, r->t->other);
        else
            fprintf(f, "null");
        fprintf(f, ", \"status\": ");
        bench_json_write_string(f, r->status);
        if (strcmp(r->status, "not measured") == 0) {
            fprintf(f, ", \"why\": ");
            bench_json_write_string(f, r->why);
        } else if (r->t->other) {
            fprintf(f, ", \"hop\": %.6g, \"peer\": %.6g, \"unit\": ", r->hop->median, r->other->median);
            bench_json_write_string(f, r->hop->unit);
            fprintf(f, ", \"speedup\": %.4f, \"required_speedup\": %.4f", r->speedup, r->t->min_speedup);
        } else {
            fprintf(f, ", \"hop\": %.6g, \"unit\": ", r->hop->median);
            bench_json_write_string(f, r->hop->unit);
            fprintf(f, ", \"required_max\": %g", r->t->max_value);
        }
        fputc('}', f);
    }
    fprintf(f, "\n  ]");
    bench_json_counters(f, rows, count);
    fprintf(f, "\n}\n");
    if (fclose(f) != 0)
        bench_die("writing %s failed", path);
}

/* ---------------------------------------------------------------------------
 * Charts: one per workload, a horizontal bar per row (median, with the
 * min-max spread as an error bar), hop's rows in one colour, peers in
 * another, references in grey. gnuplot draws them from a data file and a
 * script written next to the chart, so they can be redrawn or edited. */

static void plot_family(const char *dir, const char *family, const bench_t *rows, int count,
                        const bench_machine_t *m, const char *terminal, const char *ext) {
    char base[256];
    snprintf(base, sizeof base, "%s", family);
    for (char *p = base; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    char dat[1024], gp[1024], img[1024];
    snprintf(dat, sizeof dat, "%s/%s.dat", dir, base);
    snprintf(gp, sizeof gp, "%s/%s.gp", dir, base);
    snprintf(img, sizeof img, "%s/%s.%s", dir, base, ext);
    int n = 0;
    double lo = 0, hi = 0;
    const bench_t *first = NULL;
    for (int i = 0; i < count; i++) {
        const bench_t *b = &rows[i];
        if (!b->measured || strcmp(b->workload, family) != 0)
            continue;
        if (!first)
            first = b;
        if (!n || b->min < lo)
            lo = b->min;
        if (!n || b->max > hi)
            hi = b->max;
        n++;
    }
    if (!n)
        return;
    FILE *f = fopen(dat, "w");
    if (!f)
        bench_die("cannot write %s: %s", dat, strerror(errno));
    fprintf(f, "# label median min max colour value\n");
    /* Reversed, so that the table's first row is the chart's top bar. */
    for (int i = count - 1; i >= 0; i--) {
        const bench_t *b = &rows[i];
        if (!b->measured || strcmp(b->workload, family) != 0)
            continue;
        char label[200];
        snprintf(label, sizeof label, "%s%s", b->role == BENCH_HOP ? "hop: " : "", b->peer);
        if (strncmp(b->peer, "hop", 3) == 0)
            snprintf(label, sizeof label, "%s", b->peer);
        if (b->threads) {
            size_t len = strlen(label);
            snprintf(label + len, sizeof label - len, " [%u thr]", b->threads);
        }
        for (char *p = label; *p; p++)
            if (*p == '"')
                *p = '\'';
        unsigned int colour = b->role == BENCH_HOP ? 0xd9480f : b->role == BENCH_PEER ? 0x1c7ed6 : 0x868e96;
        char value[32];
        if (b->rate)
            bench_format_short(value, sizeof value, b->median);
        else
            bench_format_figure(value, sizeof value, b->median);
        fprintf(f, "\"%s\" %.6g %.6g %.6g %u \"%s\"\n", label, b->median, b->min, b->max, colour, value);
    }
    fclose(f);
    bool logscale = lo > 0 && hi / lo > 30;
    double xmin = logscale ? lo / 2 : 0, xmax = logscale ? hi * 5 : hi * 1.3;
    f = fopen(gp, "w");
    if (!f)
        bench_die("cannot write %s: %s", gp, strerror(errno));
    fprintf(f, "# drawn by hop-bench --plot; redraw with: gnuplot %s.gp (in this folder)\n", base);
    fprintf(f, "set terminal %s size 1100,%d font 'sans,10'\n", terminal, 120 + 32 * n);
    fprintf(f, "set output '%s.%s'\n", base, ext);
    fprintf(f, "set title \"%s: %s, %s is better\\n%s, %ld cores, hop %s\" noenhanced\n", family, first->unit,
            first->rate ? "higher" : "lower", m->cpu, m->nproc, HOP_BENCH_REVISION);
    fprintf(f, "unset key\nset style fill solid 0.85 border -1\nset grid xtics\nset ytics nomirror noenhanced\n");
    fprintf(f, "set yrange [-0.6:%f]\nset xrange [%g:%g]\n", n - 0.4, xmin, xmax);
    fprintf(f, "set xlabel \"%s%s (bar: median; whiskers: min and max of the repetitions)\" noenhanced\n",
            first->unit, logscale ? ", log scale" : "");
    if (logscale)
        fprintf(f, "set logscale x\n");
    fprintf(f,
            "plot '%s.dat' using (%g):0:(%g):2:($0-0.35):($0+0.35):5:yticlabels(1) with boxxyerror lc rgb variable, \\\n"
            "     '' using 2:0:3:4 with xerrorbars lc rgb 'black' pt 0, \\\n"
            "     '' using 4:0:6 with labels left offset 1,0 noenhanced\n",
            base, xmin, xmin);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp'", dir, base);
    char *argv[] = {"sh", "-c", cmd, NULL}, out[1024];
    const char *err = bench_run_process(argv, NULL, out, sizeof out);
    if (err)
        fprintf(stderr, "hop-bench: gnuplot failed for %s: %s\n", gp, err);
    else
        fprintf(stderr, "wrote %s\n", img);
}

static void plot(const char *dir, const bench_t *rows, int count, const bench_machine_t *m) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", dir, strerror(errno));
    char out[256];
    char *probe[] = {"gnuplot", "-e", "set terminal pngcairo", NULL};
    const char *err = bench_run_process(probe, NULL, out, sizeof out);
    if (err && strcmp(err, "not installed") == 0) {
        fprintf(stderr, "hop-bench: --plot: gnuplot is not installed (Debian: gnuplot-nox); no charts\n");
        return;
    }
    const char *terminal = err ? "svg" : "pngcairo", *ext = err ? "svg" : "png";
    for (int i = 0; i < count; i++) {
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen |= strcmp(rows[j].workload, rows[i].workload) == 0;
        if (!seen)
            plot_family(dir, rows[i].workload, rows, count, m, terminal, ext);
    }
}

/* ---------------------------------------------------------------------------
 * main. */

#if defined(HOP_BENCH_HAVE_TBB)
const char *bench_tbb_version;
#else
const char *bench_tbb_version = "not installed";
#endif

/* ---------------------------------------------------------------------------
 * --load N: CPU-bound processes beside every row. A server shares its
 * machine; hop's lead over its peers must survive that. They start before a
 * row (its calibration included) and are killed after it, so every row and
 * every peer meets the same competition; they die with hop-bench too
 * (PR_SET_PDEATHSIG), whatever ends it. */

static pid_t load_hogs[64];
static int load_nhogs;

static void load_start(int n) {
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            bench_die("--load: fork: %s", strerror(errno));
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1)
                _exit(0);
            for (volatile unsigned long spin = 0;; spin++)
                ;
        }
        load_hogs[load_nhogs++] = pid;
    }
}

static void load_stop(void) {
    for (int i = 0; i < load_nhogs; i++)
        kill(load_hogs[i], SIGKILL);
    for (int i = 0; i < load_nhogs; i++)
        waitpid(load_hogs[i], NULL, 0);
    load_nhogs = 0;
}

/* The targets a loaded run is judged by (issue: hop's lead must survive a
 * busy machine): the round trip still ahead of libuv's, and 10,000 loop
 * tasks within 3x of libuv's 10,000 uv_queue_work. */
static void add_load_targets(void) {
    bench_target_add(&(bench_target_t){.workload = "roundtrip",
                                       .text = "under --load: hop round trip still ahead of uv_queue_work",
                                       .hop = "roundtrip.hop_run_in_executor",
                                       .other = "roundtrip.uv_queue_work",
                                       .min_speedup = 1,
                                       .under_load = true});
    bench_target_add(&(bench_target_t){.workload = "fan-out",
                                       .text = "under --load: 10,000 loop tasks within 3x of uv_queue_work",
                                       .hop = "fanout.hop_tasks",
                                       .other = "fanout.uv_queue_work",
                                       .min_speedup = 1.0 / 3,
                                       .under_load = true});
}

int main(int argc, char **argv) {
    bench_init("hop-bench");
#if defined(HOP_BENCH_HAVE_TBB)
    bench_tbb_version = bench_strf("oneTBB %s", bench_tbb_version_string());
#endif
    bench_options_t o;
    bench_options_init(&o);
    const char *child = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (bench_parse_option(&o, argc, argv, &i)) {
            continue;
        } else if (strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "--fp-flags-differ") == 0) {
            bench_fp_flags_differ = true;
        } else if (strcmp(argv[i], "--child") == 0 && i + 1 < argc) {
            child = argv[++i];
        } else if (strcmp(argv[i], "--memory-probe") == 0 && i + 2 < argc) {
            return bench_memory_probe(argv[i + 1], strtol(argv[i + 2], NULL, 10));
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "hop-bench: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    bench_options_finish(&o);
#if !defined(__OPTIMIZE__)
    fprintf(stderr, "hop-bench: warning: built without optimisation; use a Release build\n");
#endif

    bench_list_t l = {0};
    bench_switch_add(&l, &o);
    bench_spawn_add(&l, &o);
    bench_offload_add(&l, &o);
    bench_pingpong_add(&l, &o);
    bench_forkjoin_add(&l, &o);
    bench_memory_add(&l, &o);
    bench_idle_add(&l, &o);
    bench_blocking_add(&l, &o);
    bench_io_add(&l, &o);
    bench_timers_add(&l, &o);
    add_load_targets();
    bench_t *rows = l.rows;
    int count = l.count;

    if (child)
        return run_child(rows, count, child, &o);
    if (list) {
        for (int i = 0; i < count; i++) {
            const bench_t *b = &rows[i];
            if (!bench_filter_match(b->name, o.filter))
                continue;
            char thr[16] = "-";
            if (b->threads)
                snprintf(thr, sizeof thr, "%u", b->threads);
            printf("%-36s %-11s %3s  %s%s\n", b->name, b->workload, thr, b->role == BENCH_HOP ? "* " : "  ",
                   b->peer);
        }
        return 0;
    }

    int to_run = 0;
    for (int i = 0; i < count; i++) {
        bench_t *b = &rows[i];
        if (!bench_filter_match(b->name, o.filter))
            b->skipped = "filtered out";
        else if (!b->run && !b->external)
            b->skipped = "not installed";
        else if (b->isolate) {
            b->external = isolated_external;
            b->run = NULL;
        }
        to_run += b->skipped == NULL;
    }
    bench_machine_t machine;
    bench_machine(&machine);
    if (machine.load1 > 0.5)
        fprintf(stderr, "hop-bench: the 1-minute load average is %.2f: other work shares the CPUs, figures will be "
                        "noisy\n",
                machine.load1);

    /* Thread-independent rows first, then each thread count in turn, with
     * hop's pool (and the pthread pool) of that size open only meanwhile. */
    int index = 0;
    for (int pass = -1; pass < o.nthreads; pass++) {
        unsigned int t = pass < 0 ? 0 : o.threads[pass];
        for (int i = 0; i < count; i++) {
            bench_t *b = &rows[i];
            if (b->threads != t)
                continue;
            if (b->skipped) {
                if (!bench_filtered_out(b))
                    fprintf(stderr, "[-] %s, %s: skipped (%s)\n", b->workload, b->peer, b->skipped);
                continue;
            }
            bench_current_threads = t ? t : o.threads[0];
            bench_env_require(b->needs, bench_current_threads);
            load_start(o.load);
            bench_measure(b, &o, ++index, to_run);
            load_stop();
        }
        bench_env_release();
    }
    bench_compute_ratios(rows, count);
    evaluate_targets(rows, count, &o);

    printf("hop-bench: hop %s (git %s, %s context switch); %s: %d repetitions of ~%.0f ms per row, median "
           "reported\n",
           hop_version_string(), HOP_BENCH_REVISION, bench_hop_backend, o.quick ? "--quick" : "--full", o.repeat,
           (double)o.target_ns / 1e6);
    printf("machine: %s, %ld cores online, %s, %s, libuv %s, load average %.2f at start\n", machine.cpu,
           machine.nproc, machine.kernel, BENCH_COMPILER, uv_version_string(), machine.load1);
    if (o.load)
        printf("load: %d CPU-bound processes ran beside every row (--load %d)\n", o.load, o.load);
    printf("peers: Boost.Context %s; TBB %s; Go %s; Python %s\n\n", bench_boost_context, bench_tbb_version,
           bench_go_version[0] ? bench_go_version : "(not run)",
           bench_python_version[0] ? bench_python_version : "(not run)");
    bench_print_table(stdout, rows, count);
    printf("\n(* hop's rows. vs best peer: cost relative to the best peer of the same workload and thread count,\n"
           " > 1 is slower. cpu/op: CPU time of the measuring process, all threads, per operation; cores: CPU\n"
           " time / wall time. REFERENCE rows are never the best peer. bench/README.md says what each row "
           "measures.)\n\n");
    print_targets(stdout);
    printf("\n");
    bench_print_counters(stdout, rows, count);
    bench_blocking_print(stdout, rows, count);
    bench_variant_print(stdout, rows, count);
    fflush(stdout);
    if (o.json_path) {
        write_json(o.json_path, rows, count, &o, &machine, argc, argv);
        fprintf(stderr, "wrote %s\n", o.json_path);
    }
    if (o.plot_dir)
        plot(o.plot_dir, rows, count, &machine);
    return 0;
}

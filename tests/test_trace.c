/* tests/test_trace.c: the trace (hop/trace.h). Its export is valid JSON (a
 * small parser here, and python3's json module when it is installed), each
 * thread's slices nest (B/E balanced, in time order, no task's slice
 * overlapping another's on a thread, no task running on two threads at
 * once), a task that goes pool -> loop -> pool shows migrations and flow
 * arrows between two thread tracks, a suspension names its awaitable, a
 * full ring counts what it dropped, and nothing is recorded while off. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static void trace_off(void) { (void)hop_trace_stop(); }

TestSuite(trace, .timeout = 120, .fini = trace_off);

/* ---- a small JSON parser: the whole grammar, strict ---------------------- */

typedef struct json_s json_t;
struct json_s {
    char type; /* 'o'bject, 'a'rray, 's'tring, 'n'umber, 'b'oolean, 'z' null */
    double number;
    bool boolean;
    char *string;
    size_t count;
    char **keys;    /* objects */
    json_t **items; /* objects and arrays */
};

typedef struct {
    const char *p, *end;
    bool error;
} json_parser_t;

static void json_free(json_t *v) {
    if (!v)
        return;
    for (size_t i = 0; i < v->count; i++) {
        if (v->keys)
            free(v->keys[i]);
        json_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->string);
    free(v);
}

static void json_ws(json_parser_t *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool json_take(json_parser_t *j, char c) {
    json_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int json_hex(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *json_string(json_parser_t *j) {
    json_ws(j);
    if (j->p >= j->end || *j->p != '"') {
        j->error = true;
        return NULL;
    }
    j->p++;
    size_t n = 0, cap = 16;
    char *s = malloc(cap);
    for (;;) {
        if (j->p >= j->end || (unsigned char)*j->p < 0x20) {
            j->error = true;
            free(s);
            return NULL;
        }
        char c = *j->p++;
        if (c == '"')
            break;
        if (c == '\\') {
            if (j->p >= j->end) {
                j->error = true;
                free(s);
                return NULL;
            }
            char e = *j->p++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                c = e;
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                int code = 0;
                for (int k = 0; k < 4; k++) {
                    int h = j->p < j->end ? json_hex(*j->p++) : -1;
                    if (h < 0) {
                        j->error = true;
                        free(s);
                        return NULL;
                    }
                    code = code * 16 + h;
                }
                c = code < 0x80 ? (char)code : '?';
                break;
            }
            default:
                j->error = true;
                free(s);
                return NULL;
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    s[n] = '\0';
    return s;
}

static bool json_digits(json_parser_t *j) {
    const char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start;
}

static json_t *json_value(json_parser_t *j, int depth);

static void json_add(json_t *v, char *key, json_t *item) {
    v->items = realloc(v->items, (v->count + 1) * sizeof *v->items);
    if (v->type == 'o')
        v->keys = realloc(v->keys, (v->count + 1) * sizeof *v->keys);
    if (v->keys)
        v->keys[v->count] = key;
    v->items[v->count++] = item;
}

static json_t *json_value(json_parser_t *j, int depth) {
    json_ws(j);
    if (j->p >= j->end || depth > 64) {
        j->error = true;
        return NULL;
    }
    json_t *v = calloc(1, sizeof *v);
    char c = *j->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? 'o' : 'a';
        j->p++;
        char close = c == '{' ? '}' : ']';
        if (json_take(j, close))
            return v;
        do {
            char *key = NULL;
            if (v->type == 'o') {
                key = json_string(j);
                if (!key || !json_take(j, ':')) {
                    free(key);
                    j->error = true;
                    break;
                }
            }
            json_t *item = json_value(j, depth + 1);
            if (!item) {
                free(key);
                break;
            }
            json_add(v, key, item);
        } while (json_take(j, ','));
        if (!j->error && !json_take(j, close))
            j->error = true;
    } else if (c == '"') {
        v->type = 's';
        v->string = json_string(j);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v->type = 'n';
        const char *start = j->p;
        if (*j->p == '-')
            j->p++;
        if (j->p < j->end && *j->p == '0')
            j->p++;
        else if (!json_digits(j))
            j->error = true;
        if (j->p < j->end && *j->p == '.') {
            j->p++;
            if (!json_digits(j))
                j->error = true;
        }
        if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
            j->p++;
            if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
                j->p++;
            if (!json_digits(j))
                j->error = true;
        }
        char buf[64];
        size_t len = (size_t)(j->p - start);
        if (len >= sizeof buf)
            j->error = true;
        else {
            memcpy(buf, start, len);
            buf[len] = '\0';
            v->number = strtod(buf, NULL);
        }
    } else if ((size_t)(j->end - j->p) >= 4 && memcmp(j->p, "true", 4) == 0) {
        v->type = 'b';
        v->boolean = true;
        j->p += 4;
    } else if ((size_t)(j->end - j->p) >= 5 && memcmp(j->p, "false", 5) == 0) {
        v->type = 'b';
        j->p += 5;
    } else if ((size_t)(j->end - j->p) >= 4 && memcmp(j->p, "null", 4) == 0) {
        v->type = 'z';
        j->p += 4;
    } else {
        j->error = true;
    }
    if (j->error) {
        json_free(v);
        return NULL;
    }
    return v;
}

/* The whole text is one JSON value, or NULL. */
static json_t *json_parse(const char *text, size_t size) {
    json_parser_t j = {.p = text, .end = text + size};
    json_t *v = json_value(&j, 0);
    json_ws(&j);
    if (v && j.p != j.end) {
        json_free(v);
        v = NULL;
    }
    return v;
}

static const json_t *json_get(const json_t *o, const char *key) {
    if (!o || o->type != 'o')
        return NULL;
    for (size_t i = 0; i < o->count; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->items[i];
    return NULL;
}

static const char *json_str(const json_t *o, const char *key) {
    const json_t *v = json_get(o, key);
    return v && v->type == 's' ? v->string : NULL;
}

static double json_num(const json_t *o, const char *key, double otherwise) {
    const json_t *v = json_get(o, key);
    return v && v->type == 'n' ? v->number : otherwise;
}

static bool json_true(const json_t *o, const char *key) {
    const json_t *v = json_get(o, key);
    return v && v->type == 'b' && v->boolean;
}

static char ph(const json_t *event) {
    const char *p = json_str(event, "ph");
    return p ? p[0] : '?';
}

static double arg_num(const json_t *event, const char *key) { return json_num(json_get(event, "args"), key, -1); }
static const char *arg_str(const json_t *event, const char *key) { return json_str(json_get(event, "args"), key); }

/* ---- the trace as the tests read it --------------------------------------- */

typedef struct {
    json_t *root;
    const json_t *events; /* traceEvents */
} trace_t;

/* Exports the trace to a file, checks it with python3 when there is one,
 * and parses it with the parser above. */
static trace_t export_trace(void) {
    char path[] = "/tmp/hop_test_trace_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w+");
    cr_assert_not_null(f);
    HOP_OK(hop_trace_write_json(f));
    long size = ftell(f);
    cr_assert_gt(size, 0);
    char *text = malloc((size_t)size);
    rewind(f);
    cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    /* Not under TSan, whose runtime does not like fork() in a program that
     * has had threads. */
#if !defined(__SANITIZE_THREAD__)
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char command[256];
        snprintf(command, sizeof command,
                 "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                 "sys.exit(0 if isinstance(d[\"traceEvents\"], list) else 1)' %s",
                 path);
        cr_assert_eq(system(command), 0, "python3's json module rejects the trace (%s)", path);
    }
#endif
    unlink(path);
    trace_t trace = {.root = json_parse(text, (size_t)size)};
    free(text);
    cr_assert_not_null(trace.root, "the trace is not valid JSON");
    trace.events = json_get(trace.root, "traceEvents");
    cr_assert(trace.events && trace.events->type == 'a', "no traceEvents array");
    for (size_t i = 0; i < trace.events->count; i++) {
        const json_t *e = trace.events->items[i];
        cr_assert(e->type == 'o' && json_str(e, "ph") && json_get(e, "pid") && json_get(e, "tid") &&
                      json_get(e, "ts"),
                  "event %zu lacks ph, pid, tid or ts", i);
    }
    return trace;
}

static size_t count_phase(const trace_t *trace, char phase) {
    size_t n = 0;
    for (size_t i = 0; i < trace->events->count; i++)
        n += ph(trace->events->items[i]) == phase;
    return n;
}

/* B/E balanced on each thread, in time order, properly nested (so no slice
 * of one task overlaps another's on one thread, and each E closes the
 * innermost open slice); each slice names its task. Returns the slices. */
static size_t check_nesting(const trace_t *trace) {
    const json_t *ev = trace->events;
    size_t slices = 0;
    for (size_t i = 0; i < ev->count; i++) {
        double tid = json_num(ev->items[i], "tid", -1);
        bool first_of_tid = true;
        for (size_t k = 0; k < i; k++)
            first_of_tid &= json_num(ev->items[k], "tid", -2) != tid;
        if (!first_of_tid)
            continue;
        double stack_ts[256], last_ts = 0;
        double stack_task[256];
        size_t depth = 0;
        for (size_t k = i; k < ev->count; k++) {
            const json_t *e = ev->items[k];
            char p = ph(e);
            if (json_num(e, "tid", -2) != tid || p == 'M')
                continue;
            double ts = json_num(e, "ts", -1);
            cr_assert_geq(ts, last_ts, "thread %.0f: event %zu goes back in time", tid, k);
            last_ts = ts;
            if (p == 'B') {
                cr_assert_lt(depth, 256u);
                cr_assert_gt(arg_num(e, "task"), 0, "a slice without its task id");
                cr_assert_not_null(json_str(e, "name"));
                for (size_t d = 0; d < depth; d++)
                    cr_assert_neq(stack_task[d], arg_num(e, "task"), "task %.0f nested in itself", stack_task[d]);
                stack_task[depth] = arg_num(e, "task");
                stack_ts[depth++] = ts;
                slices++;
            } else if (p == 'E') {
                cr_assert_gt(depth, 0u, "thread %.0f: an end without a begin (event %zu)", tid, k);
                cr_assert_geq(ts, stack_ts[depth - 1]);
                depth--;
            }
        }
        cr_assert_eq(depth, 0u, "thread %.0f: %zu slices left open", tid, depth);
    }
    return slices;
}

typedef struct {
    double task, begin, end, tid;
} interval_t;

static int interval_cmp(const void *a, const void *b) {
    const interval_t *x = a, *y = b;
    if (x->task != y->task)
        return x->task < y->task ? -1 : 1;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* No task runs on two threads at once: its slices, wherever they are, do
 * not overlap in time (1 us of slack for the clock across CPUs). */
static void check_one_thread_at_a_time(const trace_t *trace) {
    const json_t *ev = trace->events;
    interval_t *iv = calloc(ev->count + 1, sizeof *iv);
    size_t n = 0;
    for (size_t i = 0; i < ev->count; i++) {
        if (ph(ev->items[i]) != 'B')
            continue;
        double tid = json_num(ev->items[i], "tid", -1);
        int depth = 0;
        for (size_t k = i + 1; k < ev->count; k++) {
            const json_t *e = ev->items[k];
            if (json_num(e, "tid", -2) != tid)
                continue;
            depth += ph(e) == 'B' ? 1 : ph(e) == 'E' ? -1 : 0;
            if (depth < 0) {
                iv[n++] = (interval_t){arg_num(ev->items[i], "task"), json_num(ev->items[i], "ts", 0),
                                       json_num(e, "ts", 0), tid};
                break;
            }
        }
    }
    qsort(iv, n, sizeof *iv, interval_cmp);
    for (size_t i = 1; i < n; i++)
        if (iv[i].task == iv[i - 1].task)
            cr_assert_geq(iv[i].begin + 1.0, iv[i - 1].end, "task %.0f runs on threads %.0f and %.0f at once",
                          iv[i].task, iv[i - 1].tid, iv[i].tid);
    free(iv);
}

static void free_trace(trace_t *trace) { json_free(trace->root); }

/* ---- workloads -------------------------------------------------------------- */

static void *leaf(void *arg) { return arg; }

typedef struct {
    hop_pool_t *pool;
    hop_future_t *gate;
} busy_arg_t;

/* Yields, awaits a shared future, runs a child inline (a nested slice),
 * joins a child on the pool (which may run on this thread's stack). */
static void *busy(void *arg) {
    busy_arg_t *b = arg;
    for (int i = 0; i < 3; i++)
        CHECK_OK(hop_yield());
    CHECK_OK(hop_future_await(b->gate, NULL));
    hop_task_t *child;
    hop_task_options_t inline_options = {.name = "inline child"};
    CHECK_OK(hop_task_spawn(hop_inline_executor(), leaf, NULL, &inline_options, &child));
    CHECK_OK(hop_task_join(child, NULL));
    hop_task_unref(child);
    CHECK_OK(hop_task_spawn(hop_pool_executor(b->pool), leaf, NULL, NULL, &child));
    CHECK_OK(hop_task_join(child, NULL));
    hop_task_unref(child);
    return NULL;
}

static void run_busy_pool(int tasks) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_future_t gate;
    hop_future_init(&gate);
    busy_arg_t arg = {.pool = &pool, .gate = &gate};
    hop_task_t **t = calloc((size_t)tasks, sizeof *t);
    for (int i = 0; i < tasks; i++) {
        char name[32];
        snprintf(name, sizeof name, "busy %d", i);
        hop_task_options_t task_options = {.name = name};
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), busy, &arg, &task_options, &t[i]));
    }
    HOP_OK(hop_future_set_result(&gate, NULL));
    for (int i = 0; i < tasks; i++)
        HOP_OK(test_join(t[i]));
    free(t);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* ---- tests ------------------------------------------------------------------- */

Test(trace, the_export_is_valid_json_whose_slices_nest_on_each_thread) {
    HOP_OK(hop_trace_start(NULL));
    run_busy_pool(40);
    HOP_OK(hop_trace_stop());
    hop_trace_stats_t stats;
    HOP_OK(hop_trace_stats(&stats));
    cr_assert_eq(stats.dropped, 0u);
    cr_assert_geq(stats.threads, 2u); /* the pool's workers, the test's thread */
    trace_t trace = export_trace();
    /* Each busy task runs once, then after each of its 3 yields (the gate
     * and the join may find their result ready); its 2 children once. */
    size_t slices = check_nesting(&trace);
    cr_assert_geq(slices, 40u * 4 + 80u, "%zu slices", slices);
    cr_assert_eq(count_phase(&trace, 'B'), count_phase(&trace, 'E'));
    check_one_thread_at_a_time(&trace);
    cr_assert_eq(json_num(json_get(trace.root, "otherData"), "hop_events", -1), (double)stats.events);
    free_trace(&trace);
}

Test(trace, every_task_has_its_spawn_and_its_end) {
    HOP_OK(hop_trace_start(NULL));
    run_busy_pool(4);
    HOP_OK(hop_trace_stop());
    trace_t trace = export_trace();
    /* 4 busy tasks and their 8 children, each spawned once and done once. */
    size_t spawns = 0, ends = 0, named = 0;
    for (size_t i = 0; i < trace.events->count; i++) {
        const json_t *e = trace.events->items[i];
        const char *name = json_str(e, "name");
        if (ph(e) == 'i' && name && strcmp(name, "spawn") == 0) {
            spawns++;
            named += arg_str(e, "name") && strncmp(arg_str(e, "name"), "busy ", 5) == 0;
        }
        if (ph(e) == 'E' && test_str_eq(arg_str(e, "end"), "done"))
            ends++;
    }
    cr_assert_eq(spawns, 12u);
    cr_assert_eq(named, 4u);
    cr_assert_eq(ends, 12u);
    free_trace(&trace);
}

typedef struct {
    double tid, begin, bind;
    bool in, out;
} hop_slice_t;

static int slice_cmp(const void *a, const void *b) {
    const hop_slice_t *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* pool -> loop -> pool */
static void *hopper(void *arg) {
    hop_loop_t *loop = arg;
    hop_executor_t *pool = hop_executor_current();
    CHECK_OK(hop_dispatch_to_loop(loop));
    CHECK_OK(hop_dispatch_to_executor(pool));
    return NULL;
}

Test(trace, a_task_that_hops_pool_loop_pool_migrates_between_two_thread_tracks) {
    hop_pool_t pool;
    hop_pool_options_t pool_options = {.threads = 1};
    HOP_OK(hop_pool_init(&pool, &pool_options));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    HOP_OK(hop_trace_start(NULL));
    hop_task_t *t;
    hop_task_options_t options = {.name = "hopper"};
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), hopper, &loop, &options, &t));
    uint64_t id = hop_task_id(t);
    HOP_OK(test_join(t));
    HOP_OK(hop_trace_stop());
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();

    trace_t trace = export_trace();
    check_nesting(&trace);
    /* Its slices, wherever they are in the file, and its migrations. */
    hop_slice_t slices[8];
    size_t n = 0, migrates = 0;
    for (size_t i = 0; i < trace.events->count; i++) {
        const json_t *e = trace.events->items[i];
        if (arg_num(e, "task") != (double)id)
            continue;
        if (ph(e) == 'B') {
            cr_assert_lt(n, 8u);
            cr_assert_str_eq(json_str(e, "name"), "hopper");
            slices[n++] = (hop_slice_t){.tid = json_num(e, "tid", -1),
                                        .begin = json_num(e, "ts", -1),
                                        .bind = json_num(e, "bind_id", 0),
                                        .in = json_true(e, "flow_in"),
                                        .out = json_true(e, "flow_out")};
        }
        if (ph(e) == 'i' && test_str_eq(json_str(e, "name"), "migrate")) {
            cr_assert_neq(arg_num(e, "from_tid"), json_num(e, "tid", -1), "a migration to the same thread");
            migrates++;
        }
    }
    cr_assert_eq(n, 3u, "%zu slices of the task", n);
    cr_assert_eq(migrates, 2u);
    /* In time order: pool, loop, pool; arrows pool -> loop -> pool, one flow. */
    qsort(slices, n, sizeof *slices, slice_cmp);
    cr_assert_neq(slices[0].tid, slices[1].tid);
    cr_assert_eq(slices[0].tid, slices[2].tid, "one pool thread: the task comes back to it");
    cr_assert(slices[0].out && !slices[0].in, "the first slice starts the flow");
    cr_assert(slices[1].in && slices[1].out, "the loop's slice continues it");
    cr_assert(slices[2].in && !slices[2].out, "the last slice ends it");
    cr_assert_gt(slices[0].bind, 0);
    cr_assert(slices[0].bind == slices[1].bind && slices[1].bind == slices[2].bind, "one flow id along the chain");
    free_trace(&trace);
}

/* An awaitable with a name, completed from the test's thread. */
static hop_awaitable_t *parked;

static bool latch_suspend(hop_awaitable_t *aw) {
    __atomic_store_n(&parked, aw, __ATOMIC_RELEASE);
    return true;
}

static const hop_awaitable_ops_t latch_ops = {.suspend = latch_suspend, .name = "test latch"};

static void *wait_latch(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    CHECK_OK(hop_awaitable_init(&aw, &latch_ops));
    CHECK_OK(hop_await(&aw));
    return NULL;
}

Test(trace, a_suspension_carries_the_awaitables_name) {
    hop_executor_t *manual;
    HOP_OK(hop_manual_executor_create(&manual));
    HOP_OK(hop_trace_start(NULL));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_latch, NULL, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_not_null(parked);
    HOP_OK(hop_awaitable_complete(parked, 0));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    HOP_OK(test_join(t));
    HOP_OK(hop_trace_stop());
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();

    trace_t trace = export_trace();
    check_nesting(&trace);
    const char *sequence[8];
    size_t n = 0;
    for (size_t i = 0; i < trace.events->count && n < 8; i++) {
        const json_t *e = trace.events->items[i];
        if (ph(e) == 'B')
            sequence[n++] = "run";
        else if (ph(e) == 'E')
            sequence[n++] = arg_str(e, "suspend") ? arg_str(e, "suspend") : arg_str(e, "end");
        else if (ph(e) == 'i')
            sequence[n++] = json_str(e, "name");
    }
    const char *expected[] = {"spawn", "run", "test latch", "resume", "run", "done"};
    cr_assert_eq(n, 6u, "%zu events", n);
    for (size_t i = 0; i < 6; i++)
        cr_assert_str_eq(sequence[i], expected[i], "event %zu: %s, expected %s", i, sequence[i], expected[i]);
    free_trace(&trace);
}

Test(trace, a_task_cancelled_before_it_ran_shows_the_cancel_and_its_end) {
    hop_executor_t *manual;
    HOP_OK(hop_manual_executor_create(&manual));
    HOP_OK(hop_trace_start(NULL));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, leaf, NULL, NULL, &t));
    HOP_OK(hop_task_cancel(t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    HOP_ERR(test_join(t), HOP_ECANCELED);
    HOP_OK(hop_trace_stop());
    HOP_OK(hop_manual_executor_destroy(manual));
    trace_t trace = export_trace();
    const char *names[4];
    size_t n = 0;
    for (size_t i = 0; i < trace.events->count && n < 4; i++)
        if (ph(trace.events->items[i]) != 'M')
            names[n++] = json_str(trace.events->items[i], "name");
    cr_assert_eq(n, 3u);
    cr_assert_str_eq(names[0], "spawn");
    cr_assert_str_eq(names[1], "cancel");
    cr_assert_str_eq(names[2], "cancelled");
    cr_assert_eq(count_phase(&trace, 'B'), 0u, "it never ran");
    free_trace(&trace);
}

static void *yield_many(void *arg) {
    for (int i = 0; i < (int)(intptr_t)arg; i++)
        CHECK_OK(hop_yield());
    return NULL;
}

Test(trace, a_full_ring_overwrites_its_oldest_events_and_counts_them) {
    hop_executor_t *manual;
    HOP_OK(hop_manual_executor_create(&manual));
    hop_trace_options_t options = {.events_per_thread = 10}; /* rounded up to 16 */
    HOP_OK(hop_trace_start(&options));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, yield_many, (void *)(intptr_t)50, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(test_join(t));
    HOP_OK(hop_trace_stop());
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
    hop_trace_stats_t stats;
    HOP_OK(hop_trace_stats(&stats));
    /* spawn, 51 runs, 50 suspends, 50 resumes, the end: all on this thread. */
    cr_assert_eq(stats.threads, 1u);
    cr_assert_eq(stats.events, 153u);
    cr_assert_eq(stats.dropped, 153u - 16u);
    trace_t trace = export_trace();
    cr_assert_eq(trace.events->count, 2u + 16u, "process and thread names, then the 16 newest events");
    cr_assert_eq(json_num(json_get(trace.root, "otherData"), "hop_dropped_events", -1), 137.0);
    check_nesting(&trace); /* an end whose begin was overwritten is not a slice's end */
    free_trace(&trace);
}

Test(trace, nothing_is_recorded_while_off) {
    HOP_OK(hop_trace_start(NULL));
    HOP_OK(hop_trace_stop());
    run_busy_pool(4);
    hop_trace_stats_t stats;
    HOP_OK(hop_trace_stats(&stats));
    cr_assert_not(stats.on);
    cr_assert_eq(stats.events, 0u);
    cr_assert_eq(stats.threads, 0u);
    trace_t trace = export_trace();
    cr_assert_eq(trace.events->count, 1u, "only the process's name");
    cr_assert_eq(ph(trace.events->items[0]), 'M');
    free_trace(&trace);
}

Test(trace, start_stop_and_export_refuse_what_does_not_fit) {
    hop_trace_options_t options = {.flags = 1};
    HOP_ERR(hop_trace_start(&options), HOP_EINVAL);
    options = (hop_trace_options_t){.events_per_thread = (size_t)HOP_TRACE_EVENTS_MAX + 1};
    HOP_ERR(hop_trace_start(&options), HOP_EINVAL);
    HOP_ERR(hop_trace_stop(), HOP_EALREADY);
    HOP_ERR(hop_trace_write_json(NULL), HOP_EINVAL);
    HOP_ERR(hop_trace_stats(NULL), HOP_EINVAL);
    HOP_OK(hop_trace_start(NULL));
    HOP_ERR(hop_trace_start(NULL), HOP_EBUSY);
    HOP_ERR(hop_trace_write_json(stdout), HOP_EBUSY);
    hop_trace_stats_t stats;
    HOP_OK(hop_trace_stats(&stats));
    cr_assert(stats.on);
    HOP_OK(hop_trace_stop());
    HOP_ERR(hop_trace_stop(), HOP_EALREADY);
}

Test(trace, a_child_of_fork_starts_with_tracing_off_and_may_trace_again) {
    hop_executor_t *manual;
    HOP_OK(hop_manual_executor_create(&manual));
    HOP_OK(hop_trace_start(NULL));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, leaf, NULL, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    HOP_OK(test_join(t));
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* No cr_assert here: the child reports through its exit status. */
        hop_trace_stats_t stats;
        int code = 0;
        if (hop_trace_stats(&stats) != 0 || stats.on || stats.events != 3u)
            code = 1; /* off, with the parent's spawn, run and end */
        else if (hop_trace_stop() != HOP_EALREADY || hop_trace_start(NULL) != 0 || hop_trace_stop() != 0)
            code = 2;
        _exit(code);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child said %d", WEXITSTATUS(status));
    hop_trace_stats_t stats;
    HOP_OK(hop_trace_stats(&stats));
    cr_assert(stats.on, "the parent still records");
    HOP_OK(hop_trace_stop());
    HOP_OK(hop_manual_executor_destroy(manual));
}

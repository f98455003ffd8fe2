/* examples/pipeline.c: parse -> look up (awaits) -> compute (offloaded to a
 * pool) -> format, run from a loop task; then the same chain on bad input,
 * stopping at the first step (see pipeline.h). Values are malloc'd; the
 * pipeline frees the intermediate ones. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <hop/hop.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

/* 0 or the error's name, for printing. */
static const char *status_name(int err) { return err ? hop_err_name(err) : "ok"; }

typedef struct {
    long n;
} number_t;

static hop_pool_t compute_pool;

static number_t *number_new(long n) {
    number_t *v = malloc(sizeof *v);
    if (v)
        v->n = n;
    return v;
}

/* sync, in the task: text -> number */
static int parse(void *input, void **output, void *arg) {
    (void)arg;
    char *end;
    long n = strtol(input, &end, 10);
    if (end == input || *end != '\0')
        return HOP_EINVAL;
    if (!(*output = number_new(n)))
        return HOP_ENOMEM;
    printf("  parse    \"%s\" -> %ld            (on the loop)\n", (char *)input, n);
    return 0;
}

/* async, in the task: awaits (a 10 ms lookup), then scales the number */
static int lookup(void *input, void **output, void *arg) {
    (void)arg;
    int err = hop_sleep(10);
    if (err)
        return err;
    number_t *v = input;
    v->n *= 2; /* changes the value in place and passes it on */
    *output = v;
    printf("  lookup   x2 -> %ld               (on the loop, after a 10 ms await)\n", v->n);
    return 0;
}

/* blocking, on the pool: number -> number */
static int square(void *input, void **output, void *arg) {
    (void)arg;
    long n = ((number_t *)input)->n;
    if (!(*output = number_new(n * n)))
        return HOP_ENOMEM;
    printf("  square   %ld -> %ld            (on a pool thread: %s)\n", n, n * n,
           hop_loop_current() ? "no!" : "yes");
    return 0;
}

/* sync, in the task: number -> text */
static int format(void *input, void **output, void *arg) {
    (void)arg;
    char *text = malloc(32);
    if (!text)
        return HOP_ENOMEM;
    snprintf(text, 32, "answer=%ld", ((number_t *)input)->n);
    *output = text;
    printf("  format   -> \"%s\"        (back on the loop: %s)\n", text, hop_loop_current() ? "yes" : "no!");
    return 0;
}

static void *main_task(void *arg) {
    pipeline_t *p = arg;
    int failures = 0;
    void *out = NULL;
    size_t failed = 0;

    printf("pipeline on \"21\":\n");
    int err = pipeline_run(p, strdup("21"), &out, &failed);
    printf("  -> %s, \"%s\"\n", status_name(err), out ? (char *)out : "");
    failures += err != 0 || !out || strcmp(out, "answer=1764") != 0;
    free(out);

    printf("pipeline on \"twenty-one\":\n");
    err = pipeline_run(p, strdup("twenty-one"), &out, &failed);
    printf("  -> %s at step %zu (\"%s\"); later steps did not run\n", status_name(err), failed,
           p->steps[failed].name);
    failures += err != HOP_EINVAL || failed != 0 || out != NULL;
    return (void *)(intptr_t)failures;
}

int main(void) {
    if (hop_pool_init(&compute_pool, &(hop_pool_options_t){.threads = 2}) != 0)
        return 1;
    pipeline_t p;
    pipeline_init(&p, free);
    pipeline_then(&p, "parse", parse, NULL);
    pipeline_then(&p, "lookup", lookup, NULL);
    pipeline_then_offload(&p, "square", hop_pool_executor(&compute_pool), square, NULL);
    pipeline_then(&p, "format", format, NULL);

    void *failures = (void *)1;
    int err = hop_run(main_task, &p, &failures);
    pipeline_destroy(&p);
    hop_pool_close(&compute_pool);
    if (err || failures) {
        printf("FAILED\n");
        return 1;
    }
    return 0;
}

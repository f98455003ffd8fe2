/* bench/workloads/pingpong.c: workload 6, ping-pong between two event loops
 * on two threads: a message goes from loop A to loop B and back, one at a
 * time. hop's loops pass it through their lock-free inboxes
 * (hop_loop_post, or a task moving itself with hop_dispatch_to_loop);
 * the peer is two plain libuv loops, each with a uv_async_t and a
 * mutex-protected list, which is what hop's inbox replaces. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "../bench_env.h"

/* hop, jobs: one job lives on each side; each, when run, posts the other
 * one to the other loop. Every job runs on its loop's thread only, so the
 * counter needs no atomics. */
static struct {
    hop_job_t on_a, on_b;
    uint64_t remaining;
    hop_future_t done;
} hpp;

static void hpp_run_b(hop_job_t *job) {
    (void)job;
    int err = hop_loop_post(&bench_env.loop, &hpp.on_a);
    if (err)
        bench_die("hop_loop_post: %s", hop_strerror(err));
}

static void hpp_run_a(hop_job_t *job) {
    (void)job;
    if (--hpp.remaining == 0) {
        hop_future_set_result(&hpp.done, NULL);
        return;
    }
    int err = hop_loop_post(&bench_env.loop2, &hpp.on_b);
    if (err)
        bench_die("hop_loop_post: %s", hop_strerror(err));
}

static uint64_t hpp_jobs_run(void *state, uint64_t iters) {
    (void)state;
    hop_job_init(&hpp.on_a, hpp_run_a);
    hop_job_init(&hpp.on_b, hpp_run_b);
    hop_future_init(&hpp.done);
    hpp.remaining = iters;
    uint64_t t0 = bench_now_ns();
    int err = hop_loop_post(&bench_env.loop2, &hpp.on_b);
    if (err)
        bench_die("hop_loop_post: %s", hop_strerror(err));
    hop_future_wait(&hpp.done, HOP_WAIT_FOREVER, NULL);
    return bench_now_ns() - t0;
}

/* hop, a task: it moves itself to B and back, iters times, and times its
 * own loop. */
typedef struct {
    uint64_t iters, ns;
} hpp_task_t;

static void *hpp_task(void *arg) {
    hpp_task_t *r = arg;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters; i++) {
        int err = hop_dispatch_to_loop(&bench_env.loop2);
        if (!err)
            err = hop_dispatch_to_loop(&bench_env.loop);
        if (err)
            bench_die("hop_dispatch_to_loop: %s", hop_strerror(err));
    }
    r->ns = bench_now_ns() - t0;
    return NULL;
}

static uint64_t hpp_task_run(void *state, uint64_t iters) {
    (void)state;
    hpp_task_t r = {.iters = iters};
    bench_hop_run_task(hop_loop_executor(&bench_env.loop), hpp_task, &r, "ping-pong, task");
    return r.ns;
}

/* The peer: two libuv loops, each run by its own thread, each with a
 * uv_async_t and a list under a mutex. Posting = lock, append, unlock,
 * uv_async_send; the async callback takes the whole list under the lock and
 * handles each message. */
typedef struct uvside_s uvside_t;
typedef struct uvmsg_s {
    struct uvmsg_s *next;
} uvmsg_t;

struct uvside_s {
    uv_loop_t loop;
    uv_async_t async;
    pthread_mutex_t lock;
    uvmsg_t *head, *tail;
    pthread_t thread;
    bool is_a;
};

static struct {
    _Alignas(128) uvside_t a;
    _Alignas(128) uvside_t b;
    _Alignas(128) uint64_t remaining; /* loop A's thread only */
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    bool done, started;
    uvmsg_t msg;
} upp = {.done_lock = PTHREAD_MUTEX_INITIALIZER, .done_cond = PTHREAD_COND_INITIALIZER};

static void uvside_post(uvside_t *side, uvmsg_t *msg) {
    msg->next = NULL;
    pthread_mutex_lock(&side->lock);
    if (side->tail)
        side->tail->next = msg;
    else
        side->head = msg;
    side->tail = msg;
    pthread_mutex_unlock(&side->lock);
    uv_async_send(&side->async);
}

static void uvside_cb(uv_async_t *async) {
    uvside_t *side = async->data;
    pthread_mutex_lock(&side->lock);
    uvmsg_t *list = side->head;
    side->head = side->tail = NULL;
    pthread_mutex_unlock(&side->lock);
    while (list) {
        uvmsg_t *msg = list;
        list = msg->next;
        if (!side->is_a) {
            uvside_post(&upp.a, msg);
        } else if (--upp.remaining == 0) {
            pthread_mutex_lock(&upp.done_lock);
            upp.done = true;
            pthread_cond_signal(&upp.done_cond);
            pthread_mutex_unlock(&upp.done_lock);
        } else {
            uvside_post(&upp.b, msg);
        }
    }
}

static void *uvside_thread(void *arg) {
    uvside_t *side = arg;
    uv_run(&side->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void uvside_start(uvside_t *side, bool is_a) {
    side->is_a = is_a;
    pthread_mutex_init(&side->lock, NULL);
    int err = uv_loop_init(&side->loop);
    if (!err)
        err = uv_async_init(&side->loop, &side->async, uvside_cb);
    if (err)
        bench_die("uv_loop_init/uv_async_init: %s", uv_strerror(err));
    side->async.data = side;
    err = pthread_create(&side->thread, NULL, uvside_thread, side);
    if (err)
        bench_die("pthread_create: %s", strerror(err));
}

static uint64_t upp_run(void *state, uint64_t iters) {
    (void)state;
    if (!upp.started) {
        /* The two threads stay blocked in epoll_wait between runs, and
         * until the process exits. */
        upp.started = true;
        uvside_start(&upp.a, true);
        uvside_start(&upp.b, false);
    }
    upp.remaining = iters;
    upp.done = false;
    uint64_t t0 = bench_now_ns();
    uvside_post(&upp.b, &upp.msg);
    pthread_mutex_lock(&upp.done_lock);
    while (!upp.done)
        pthread_cond_wait(&upp.done_cond, &upp.done_lock);
    pthread_mutex_unlock(&upp.done_lock);
    return bench_now_ns() - t0;
}

void bench_pingpong_add(bench_list_t *l, const bench_options_t *o) {
    (void)o;
    const char *w = "ping-pong";
    const unsigned int loops = BENCH_NEED_LOOP | BENCH_NEED_LOOP2;
    bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop, jobs through the inboxes (hop_loop_post)",
                                 .name = "pingpong.hop_loop_post",
                                 .unit = "us/roundtrip",
                                 .unit_ns = 1e3,
                                 .role = BENCH_HOP,
                                 .needs = loops,
                                 .run = hpp_jobs_run}));
    bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop, a task moving (hop_dispatch_to_loop)",
                                 .name = "pingpong.hop_dispatch_to_loop",
                                 .unit = "us/roundtrip",
                                 .unit_ns = 1e3,
                                 .role = BENCH_HOP,
                                 .needs = loops,
                                 .run = hpp_task_run}));
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "libuv, uv_async_send + mutex-protected list",
                                 .name = "pingpong.uv_async_send",
                                 .unit = "us/roundtrip",
                                 .unit_ns = 1e3,
                                 .role = BENCH_PEER,
                                 .run = upp_run});
}

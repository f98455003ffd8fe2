/* hop/common.h: the export macro and every public type, declared once.
 *
 * Each public type is a struct whose layout is in the header that owns it, so
 * that callers can allocate it themselves (on a task's stack, inside their own
 * structs) the way libuv's requests are allocated.
 *
 * Layout. Fields marked private are hop's: do not read or write them, they
 * may change in any release. So that they can change without changing the
 * struct's size (which callers compiled against an older header have baked
 * in), every public struct with private fields ends in reserved slots,
 * void *reserved[2], as libuv's handles do: new private state is carved out
 * of them, and sizeof changes only with the major version. Initialise the
 * structs through their init calls or static initialisers (HOP_MUTEX_INIT,
 * ...), never field by field. */
#ifndef HOP_COMMON_H
#define HOP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define HOP_EXTERN __attribute__((visibility("default")))
#else
#define HOP_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_task_s hop_task_t;
typedef struct hop_task_options_s hop_task_options_t;
typedef struct hop_awaitable_s hop_awaitable_t;
typedef struct hop_awaitable_ops_s hop_awaitable_ops_t;
typedef struct hop_future_s hop_future_t;
typedef struct hop_future_waiter_s hop_future_waiter_t;
typedef struct hop_executor_s hop_executor_t;
typedef struct hop_executor_ops_s hop_executor_ops_t;
typedef struct hop_job_s hop_job_t;
typedef struct hop_stack_stats_s hop_stack_stats_t;

/* A thread hook (the on_thread_start / on_thread_stop of the pool, loop and
 * blocking-pool options, like Tokio's Builder::on_thread_start): called on
 * each thread the executor creates, on that thread, with the executor and
 * the options' hook_arg: start before the thread runs any job, stop after
 * its last one, just before it ends. For per-thread state (a database
 * connection per worker, thread-local caches, CPU pinning). It must not
 * block for long: the executor's close waits for it. */
typedef void (*hop_thread_hook_fn)(hop_executor_t *executor, void *arg);

/* private: the intrusive wait queue that futures and the synchronisation
 * primitives embed (its operations are internal, in src/core/waitq.h). Its
 * layout is public only so that those objects can be caller-allocated; all
 * zero is an empty queue. */
typedef struct hop__waitq_node_s hop__waitq_node_t;
struct hop__waitq_node_s {
    hop__waitq_node_t *next;
    hop__waitq_node_t *prev;
    bool queued;
};
typedef struct hop__waitq_s {
    hop__waitq_node_t *head;
    hop__waitq_node_t *tail;
} hop__waitq_t;
#define HOP__WAITQ_INIT                                                                                      \
    { NULL, NULL }

#ifdef __cplusplus
}
#endif

#endif /* HOP_COMMON_H */

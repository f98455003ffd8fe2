/* hop/once.h: one-time async initialisation (a lazy singleton for tasks).
 *
 *     static hop_once_t db_once = HOP_ONCE_INIT;
 *
 *     static int open_db(void *arg, void **value) {
 *         return hop_run_in_executor(blocking_pool, connect_blocking, arg, value);
 *     }
 *
 *     hop_db_t *db;
 *     int err = hop_once_call(&db_once, open_db, "db.sqlite", (void **)&db);
 *
 * Any number of tasks, on any executors and threads, may call
 * hop_once_call() on one hop_once_t at the same time. The first runs init,
 * in its own task (init may await anything: hop_run_in_executor, futures,
 * sleeps); the others suspend (not blocking their threads) until it
 * finishes, then all get the same value. Once init has succeeded it never
 * runs again, and later calls return the value at once, without locking or
 * suspending.
 *
 * Failure and retry. init returns 0 (or any non-negative number) for
 * success, a negative error code for failure. A failed init is not
 * remembered: the caller that ran it gets its error, and the once is free to
 * be tried again. If tasks were waiting, the one that has waited longest
 * runs its own init next (with its own init and arg), the others keep
 * waiting; with nobody waiting, the next hop_once_call() tries again. So
 * every caller gets either the value of the one successful init or the error
 * of an init that it ran itself: no task ever gets another task's error, and
 * a failing init is tried at most once per caller.
 *
 * Cancellation. A waiting caller that is cancelled (or whose deadline
 * passes) leaves the queue and gets HOP_ECANCELED (HOP_ETIMEDOUT); init is
 * not disturbed. If the task running init is cancelled, init's own awaits
 * fail with HOP_ECANCELED; when init then returns that error it is a failure
 * like any other (the next waiter takes over); if init succeeds anyway, its
 * value stands. A waiter whose turn to run init comes after it was
 * cancelled does not run init: it passes the turn on and returns
 * HOP_ECANCELED.
 *
 * Invalidation. hop_once_reset() makes a done once fresh again, so the next
 * hop_once_call() runs init anew (a connection that broke, a configuration
 * that changed). The old value goes back to the caller of the reset, who
 * decides when it may be freed: tasks that got it before the reset may still
 * use it, and a call racing the reset may still return it.
 *
 * Waiter records live on the waiting tasks' stacks (no allocation); a short
 * spin lock guards the queue. A hop_once_t needs no destroy. */
#ifndef HOP_ONCE_H
#define HOP_ONCE_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_once_s hop_once_t;

/* init for hop_once_call(): runs in the calling task (it may await); stores
 * the value in *value and returns >= 0, or returns a negative error code
 * (*value is then ignored). */
typedef int (*hop_once_fn)(void *arg, void **value);

struct hop_once_s {
    /* private: all zero is a fresh once (HOP_ONCE_INIT, or static storage) */
    unsigned int lock;  /* spin lock word guarding the fields below */
    unsigned int state; /* HOP__ONCE_*: idle, running, done (atomic) */
    void *value;        /* written once, before state becomes done */
    hop_task_t *runner; /* the task running init, while running */
    hop__waitq_t waiters;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* HOP_ONCE_INIT: a static initialiser; zero-filled storage works too. */
#define HOP_ONCE_INIT                                                                                        \
    { 0u, 0u, NULL, NULL, HOP__WAITQ_INIT, {NULL, NULL} }

/* hop_once_init: makes once fresh (init not yet run). Not concurrently with
 * other use of once. Returns 0 or HOP_EINVAL (NULL). */
HOP_EXTERN int hop_once_init(hop_once_t *once);

/* hop_once_call: runs init(arg, &v) once per successful initialisation of
 * once (see the top of this header) and stores its value in *value (value
 * may be NULL). Task only, except that once init has succeeded any thread
 * may call it, and it returns the value at once. Suspends while another
 * task runs init.
 * Returns 0 (*value set); the negative code init returned, when this call
 * ran init and it failed (*value untouched); HOP_EINVAL (NULL once or
 * init); HOP_ENOTTASK (not in a task and not yet initialised); HOP_EDEADLK
 * (called again from inside init, by the task running it); HOP_ECANCELED,
 * HOP_ETIMEDOUT (the waiting task was interrupted). */
HOP_EXTERN int hop_once_call(hop_once_t *once, hop_once_fn init, void *arg, void **value);

/* hop_once_reset: makes a done once fresh: the next hop_once_call() runs
 * init again. Stores the value of the init that had succeeded in *old_value
 * (if not NULL): the caller owns it now (see "Invalidation" above). Any
 * thread; never suspends or blocks beyond a short spin lock.
 * Returns 0; HOP_EINVAL (NULL once); HOP_EBUSY (init is running right now:
 * nothing changed, its outcome stands); HOP_EALREADY (not done: nothing to
 * reset). */
HOP_EXTERN int hop_once_reset(hop_once_t *once, void **old_value);

/* hop_once_is_done: whether an init has succeeded: a snapshot. Any thread.
 * false for NULL. */
HOP_EXTERN bool hop_once_is_done(const hop_once_t *once);

#ifdef __cplusplus
}
#endif

#endif /* HOP_ONCE_H */

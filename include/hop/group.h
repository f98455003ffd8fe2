/* hop/group.h: task groups, structured concurrency like asyncio.TaskGroup.
 *
 * A group owns the children spawned into it and is waited for as a whole:
 *
 *     static int fetch(void *url, void **page) { ...; return err; }
 *
 *     hop_group_t group;                       // usually on the task's stack
 *     hop_group_init(&group);
 *     hop_group_spawn(&group, pool, fetch, "a", NULL, NULL);
 *     hop_group_spawn(&group, loop, fetch, "b", NULL, NULL);
 *     int err = hop_group_wait(&group);        // 0, or the first child's error
 *     ...hop_group_status(&group, i, &page) for each child...
 *     hop_group_destroy(&group);
 *
 * Children fail by returning an error. A child runs a hop_group_fn: it
 * returns 0 or a negative error code and hands its result back through its
 * second argument. The first child to return an error other than
 * HOP_ECANCELED makes the group fail: every other child is cancelled
 * (hop_task_cancel(): a child suspended in an interruptible await resumes
 * with HOP_ECANCELED), no new child is accepted, and hop_group_wait()
 * returns that first error once every child has finished. HOP_ECANCELED is
 * never a failure: it is how children report that they were cancelled (by
 * the group, or by anyone else). Other children's errors are not lost:
 * hop_group_status() reports each child's own status and result.
 *
 * The group never lets a child outlive the wait: hop_group_wait() returns
 * only when every child has finished, even if the waiting task is cancelled
 * meanwhile (it then cancels all children, keeps waiting for them, and
 * returns HOP_ECANCELED; HOP_ETIMEDOUT for an expired deadline).
 *
 * Children may run on any executors (a pool, loops, several at once) and
 * may themselves spawn into the group while it is open, including while the
 * parent is waiting. The group holds a reference to every child's task until
 * hop_group_destroy(), so statuses, results and task handles stay valid
 * until then.
 *
 * Costs: spawning allocates one small record per child (besides the task's
 * stack); waiting allocates nothing. */
#ifndef HOP_GROUP_H
#define HOP_GROUP_H

#include "hop/common.h"
#include "hop/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_group_s hop_group_t;

/* A child's function: runs as a task; returns 0 or a negative error code,
 * and may store a result in *result (NULL before the call). */
typedef int (*hop_group_fn)(void *arg, void **result);

struct hop_group_s {
    /* private: caller-allocated; valid from hop_group_init() to
     * hop_group_destroy() */
    unsigned int lock;
    unsigned int state;
    unsigned int running; /* children whose task has not finished */
    unsigned int waiting; /* a task is in hop_group_wait() */
    int error;            /* the first failure */
    void *head;           /* children, in spawn order */
    void *tail;
    uint64_t count; /* children spawned (atomic) */
    hop_awaitable_t *waiter;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* hop_group_init: makes group empty and open; all-zero memory is the same
 * (a zeroed group is an initialised one). Not thread-safe against other use
 * of the same group. Returns 0 or HOP_EINVAL (NULL). */
HOP_EXTERN int hop_group_init(hop_group_t *group);

/* hop_group_spawn: spawns a child task running fn(arg, &result) on executor
 * and adds it to group. options are the task's (hop_task_spawn(); may be
 * NULL): the task's result is the child's result, so a result_destructor
 * there frees it once the last reference to the task is gone. If task is not
 * NULL it receives a reference of its own (hop_task_unref() it). Any thread
 * (from outside a task too, and from the group's own children) while the
 * group is open; does not suspend. The child's index for hop_group_status()
 * is the number of children spawned before it.
 * Returns 0; HOP_EINVAL (NULL group, executor or fn; a destroyed group);
 * HOP_ECLOSED (the group takes no more children: a child failed, the waiting
 * task was cancelled, or the wait is over; nothing was spawned); HOP_ENOMEM; and hop_task_spawn()'s
 * errors (nothing was spawned). On error *task is set to NULL. */
HOP_EXTERN int hop_group_spawn(hop_group_t *group, hop_executor_t *executor, hop_group_fn fn, void *arg,
                               const hop_task_options_t *options, hop_task_t **task);

/* hop_group_wait: suspends the current task until every child of group has
 * finished (children spawned during the wait included), then closes the
 * group to new children. Returns 0 if no child failed, else the first
 * child's error (see above). If the waiting task is cancelled (or its
 * deadline passes), before or during the wait: every child is cancelled, the
 * call still waits for all of them to finish, without being interruptible
 * any more, and then returns HOP_ECANCELED (HOP_ETIMEDOUT). A group with no
 * children returns 0 at once. Calling it again after it returned gives the
 * same answer without waiting.
 * Task only; suspends. Errors: HOP_EINVAL (NULL, destroyed); HOP_ENOTTASK
 * (not in a task: nothing changed); HOP_EBUSY (another task is waiting for group);
 * HOP_EDEADLK (called from one of the group's own children, which the wait
 * would wait for). */
HOP_EXTERN int hop_group_wait(hop_group_t *group);

/* hop_group_cancel: cancels every child of group and closes it to new ones,
 * as a failure would, without making one: hop_group_wait() then returns 0
 * unless a child failed (asyncio has no such call; trio's
 * nursery.cancel_scope.cancel() is the model). Any thread. Returns 0, or
 * HOP_EINVAL (NULL, destroyed). */
HOP_EXTERN int hop_group_cancel(hop_group_t *group);

/* hop_group_size: how many children have been spawned into group. Any
 * thread; a snapshot. 0 for NULL. */
HOP_EXTERN size_t hop_group_size(const hop_group_t *group);

/* hop_group_status: child index's outcome: what its function returned (0 or
 * its error); HOP_ECANCELED if it was cancelled before it could start; or
 * HOP_EAGAIN while it has not finished. *result (if not NULL) receives its
 * result (NULL if it did not set one or has not finished), borrowed: valid
 * until hop_group_destroy(). *task (if not NULL) receives the child's task,
 * borrowed likewise. Any thread.
 * Returns as above, or HOP_EINVAL (NULL group, index >= hop_group_size()). */
HOP_EXTERN int hop_group_status(const hop_group_t *group, size_t index, void **result, hop_task_t **task);

/* hop_group_destroy: releases the group's records and its references to the
 * children's tasks (running their result destructors if nobody else holds
 * one). Only once every child has finished, normally after hop_group_wait().
 * Later calls on group return HOP_EINVAL (size: 0) until it is initialised
 * again. Any thread. Returns 0; HOP_EINVAL (NULL, or destroyed already);
 * HOP_EBUSY (a child is still running or a task is waiting: nothing
 * changed). */
HOP_EXTERN int hop_group_destroy(hop_group_t *group);

#ifdef __cplusplus
}
#endif

#endif /* HOP_GROUP_H */

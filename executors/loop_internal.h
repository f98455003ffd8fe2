/* executors/loop_internal.h: what the loop (loop.c) offers the rest of
 * executors/: hop_run (run.c) drives a loop in a mode the public API does
 * not have. */
#ifndef HOP_EXECUTORS_LOOP_INTERNAL_H
#define HOP_EXECUTORS_LOOP_INTERNAL_H

#include "hop/loop.h"

/* hop__loop_run_main: runs loop on the calling thread until it owns no task
 * and its inbox is empty (a task it owns may hold it open while it runs
 * elsewhere, through the executor's task_enter/task_leave); hop_loop_stop
 * and a user's uv_stop do not end it. Blocks. Returns 0; HOP_EBUSY (this
 * thread already runs a loop, or loop runs elsewhere); HOP_ECLOSED. */
int hop__loop_run_main(hop_loop_t *loop);

#endif /* HOP_EXECUTORS_LOOP_INTERNAL_H */

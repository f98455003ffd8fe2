/* src/core/loop_handles.h: the handles a hop loop closes when it closes.
 *
 * A layer above the executors (src/io) opens libuv handles on a loop and
 * hands them to users, who may leave them open, with tasks waiting on them,
 * when the loop closes. hop_loop_close would then wait forever for those
 * tasks, and uv_loop_close would close the handles without their close
 * callbacks (leaking what those free). So such a layer links each open
 * handle into its loop's list (an intrusive doubly linked list: no
 * allocation), and the closing loop calls each one's close function on the
 * loop thread, once, as soon as it starts closing (before it waits for its
 * tasks) and again for any linked later, before uv_loop_close. The close
 * function unlinks the handle (hop__loop_handle_unlink), wakes whatever
 * waits on it, and calls uv_close; the loop then runs until every close
 * callback has run.
 *
 * Declared here (the core) so that both src/io and executors/loop.c may
 * include it; defined in executors/loop.c. Loop thread only, all of it:
 * the list belongs to the loop thread, so it takes no lock. */
#ifndef HOP_SRC_CORE_LOOP_HANDLES_H
#define HOP_SRC_CORE_LOOP_HANDLES_H

#include "core/internal.h"

typedef struct hop__loop_handle_s hop__loop_handle_t;

struct hop__loop_handle_s {
    hop__loop_handle_t *prev, *next;
    bool linked;
    /* Loop thread, while the loop closes: unlink, wake waiters, uv_close. */
    void (*close)(hop__loop_handle_t *lh);
};

/* hop__loop_handle_link: adds lh (close set) to loop's list. On a loop
 * that is closing already, lh is closed at the loop's next turn. */
void hop__loop_handle_link(hop_loop_t *loop, hop__loop_handle_t *lh);

/* hop__loop_handle_unlink: takes lh off loop's list; nothing if it is not
 * on it. */
void hop__loop_handle_unlink(hop_loop_t *loop, hop__loop_handle_t *lh);

#endif /* HOP_SRC_CORE_LOOP_HANDLES_H */

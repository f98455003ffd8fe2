/* src/core/fork.h: what hop's executors do in a child process after fork().
 *
 * Only the forking thread exists in the child. A pool, loop or blocking
 * pool inherited from the parent has lost its threads, and a lock one of
 * them held at the fork stays held for ever: used as it is, a submit would
 * queue work nobody runs and a close would wait for threads that do not
 * exist. So each executor tracks itself here while it lives, and in the
 * child (pthread_atfork) hop calls its child function, which must make it
 * refuse everything (HOP_ECLOSED) without taking any lock; its close then
 * returns at once, freeing only what needs no lock and no thread. Executors
 * created in the child are new and work. */
#ifndef HOP_SRC_CORE_FORK_H
#define HOP_SRC_CORE_FORK_H

typedef struct hop__fork_entry_s hop__fork_entry_t;
struct hop__fork_entry_s {
    hop__fork_entry_t *prev, *next;
    /* In the child, on the forking thread, before fork() returns there;
     * entry is no longer tracked when it is called. */
    void (*child)(hop__fork_entry_t *entry);
};

/* hop__fork_track: tracks entry (a live executor) until hop__fork_untrack;
 * registers hop's fork handlers on first use. Any thread. */
void hop__fork_track(hop__fork_entry_t *entry, void (*child)(hop__fork_entry_t *entry));

/* hop__fork_untrack: stops tracking entry (the executor is closing for
 * good). Any thread. */
void hop__fork_untrack(hop__fork_entry_t *entry);

/* hop__fork_register: registers hop's fork handlers if they are not yet
 * (they also protect the stack cache's lock). Any thread. */
void hop__fork_register(void);

#endif /* HOP_SRC_CORE_FORK_H */

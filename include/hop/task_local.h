/* hop/task_local.h: task-local storage, hop's contextvars.
 *
 * A task may resume on another thread after any await, so thread-local
 * storage is the wrong place for per-request state (a request id, a
 * deadline, a logger) once tasks move. A task-local value belongs to the
 * task and follows it wherever it runs.
 *
 * Keys are process-wide and caller-allocated (usually a static). Each task
 * has its own value per key, NULL until set.
 *
 * Inheritance (asyncio copies the context into a new task; hop does the same,
 * one key at a time): when a task spawns a child, for every key the parent has
 * a non-NULL value for, the child starts with inherit(parent's value) if the
 * key has an inherit function, and with NULL if it does not. inherit runs on
 * the spawning thread inside hop_task_spawn(); return the same pointer to
 * share an immutable value, or a copy. Tasks spawned from outside a task start
 * empty. Values never flow back from child to parent.
 *
 * Lifetime: the key's destructor (if any) runs on a task's value when
 * hop_task_local_set() replaces it and when the task finishes (on the thread
 * it finishes on), so a value set by a task is never leaked.
 *
 * Set and reset (asyncio's token = var.set(v) ... var.reset(token)):
 *
 *     hop_task_local_token_t token;
 *     hop_task_local_set_token(&request_id, id, &token);  // the old value moves into token
 *     handle(request);                                     // sees id
 *     hop_task_local_reset(&request_id, &token);           // id destroyed, old value back
 *
 * Until the reset, the replaced value belongs to the token, not to the task:
 * it is not destroyed when the task finishes. */
#ifndef HOP_TASK_LOCAL_H
#define HOP_TASK_LOCAL_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How many keys a process may create. */
#define HOP_TASK_LOCAL_KEYS_MAX 64

typedef struct hop_task_local_s hop_task_local_t;
typedef struct hop_task_local_token_s hop_task_local_token_t;
typedef void *(*hop_task_local_inherit_fn)(void *parent_value);
typedef void (*hop_task_local_destructor_fn)(void *value);

struct hop_task_local_s {
    /* private */
    unsigned int index; /* slot + 1; 0 while not created */
    hop_task_local_inherit_fn inherit;
    hop_task_local_destructor_fn destructor;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* A token from hop_task_local_set_token(), on the stack of the task that
 * took it: it must not outlive that task. */
struct hop_task_local_token_s {
    /* read-only: the value the set replaced, owned by the token until reset */
    void *previous;
    /* private */
    hop_task_local_t *key;
    hop_task_t *task;
    unsigned int state;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};
enum { HOP__TASK_LOCAL_TOKEN_SET = 0x7a5e7u, HOP__TASK_LOCAL_TOKEN_USED = 0x7a5e8u };

/* hop_task_local_create: makes key usable. inherit and destructor may be
 * NULL (see above). Any thread, but not concurrently with other use of the
 * same key. A process may create HOP_TASK_LOCAL_KEYS_MAX keys over its
 * lifetime: a deleted key's slot is not reused. Returns 0; HOP_EINVAL (NULL
 * key); HOP_EBUSY (key already created); HOP_ENOMEM (HOP_TASK_LOCAL_KEYS_MAX
 * keys have been created already). */
HOP_EXTERN int hop_task_local_create(hop_task_local_t *key, hop_task_local_inherit_fn inherit,
                                     hop_task_local_destructor_fn destructor);

/* hop_task_local_set: sets the current task's value for key, destroying the
 * value it replaces (if any and if different). Task only; any executor.
 * Returns 0; HOP_EINVAL (key NULL or not created); HOP_ENOTTASK;
 * HOP_ENOMEM (the task's first value needs a small table: the value was not
 * stored and not destroyed). */
HOP_EXTERN int hop_task_local_set(hop_task_local_t *key, void *value);

/* hop_task_local_delete: retires key: from now on set, get and reset treat it
 * as never created (HOP_EINVAL, NULL), new tasks inherit nothing for it, and
 * the caller may free or re-create it. Values that tasks still hold for it
 * are destroyed with its destructor when those tasks finish, as before. Any
 * thread, but not concurrently with other use of the same key. Returns 0;
 * HOP_EINVAL (NULL, not created, or already deleted). */
HOP_EXTERN int hop_task_local_delete(hop_task_local_t *key);

/* hop_task_local_set_token: sets the current task's value for key like
 * hop_task_local_set(), but the replaced value is not destroyed: it moves
 * into token (token->previous) until hop_task_local_reset(). Task only.
 * Returns 0; HOP_EINVAL (key NULL or not created, token NULL); HOP_ENOTTASK;
 * HOP_ENOMEM (as hop_task_local_set: nothing changed). */
HOP_EXTERN int hop_task_local_set_token(hop_task_local_t *key, void *value, hop_task_local_token_t *token);

/* hop_task_local_reset: puts back the value token replaced, destroying the
 * value set since (if different), like asyncio's ContextVar.reset(). Resets
 * may be nested; a token is used once. Task only: the task that took the
 * token. Returns 0; HOP_EINVAL (key NULL, not created or deleted, token NULL,
 * never set, for another key or another task); HOP_EALREADY (token already
 * used: nothing changed); HOP_ENOTTASK. */
HOP_EXTERN int hop_task_local_reset(hop_task_local_t *key, hop_task_local_token_t *token);

/* hop_task_local_get: the current task's value for key; NULL if unset, if key
 * is NULL or not created, or outside a task. An opaque call: safe to use
 * again after an await, on whatever thread the task now runs. */
HOP_EXTERN void *hop_task_local_get(const hop_task_local_t *key);

#ifdef __cplusplus
}
#endif

#endif /* HOP_TASK_LOCAL_H */

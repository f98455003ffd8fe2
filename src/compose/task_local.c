/* src/compose/task_local.c: task-local storage (hop/task_local.h).
 *
 * A task's values sit in a table of HOP_TASK_LOCAL_KEYS_MAX pointers, kept in
 * the task's slot of the task-local hook (core/task_internal.h) and
 * allocated on the task's first hop_task_local_set() (or at spawn, when the
 * parent has values to pass on), so tasks that never use task-locals pay
 * nothing. Only the task itself reads or writes its table, on whatever
 * thread it runs: a task runs on one thread at a time, and every migration
 * goes through an executor's submit, which orders the writes before the next
 * thread's reads. The hook's spawn call passes values on, its exit call
 * destroys them. */
#include <stdlib.h>

#include "core/fault.h"
#include "core/task_internal.h"

/* Per slot: the live key (NULL once deleted) and its functions. The
 * functions are copied out of the key so that values tasks still hold for a
 * deleted key are destroyed when those tasks finish, after the caller may
 * have freed the key itself. A slot is never reused. */
static hop_task_local_t *hop__task_local_keys[HOP_TASK_LOCAL_KEYS_MAX];
static hop_task_local_inherit_fn hop__task_local_inherits[HOP_TASK_LOCAL_KEYS_MAX];
static hop_task_local_destructor_fn hop__task_local_destructors[HOP_TASK_LOCAL_KEYS_MAX];
static unsigned int hop__task_local_key_count;

static int hop__task_locals_inherit(void *parent_values, void **child_values);
static void hop__task_locals_destroy(hop_task_t *t, void *values);

static hop__task_hook_t hop__task_local_hook = {
    .name = "task-local", .spawn = hop__task_locals_inherit, .exit = hop__task_locals_destroy};

int hop_task_local_create(hop_task_local_t *key, hop_task_local_inherit_fn inherit,
                          hop_task_local_destructor_fn destructor) {
    if (!key)
        return HOP_EINVAL;
    if (hop__atomic_load_uint(&key->index) != 0)
        return HOP_EBUSY;
    for (;;) {
        unsigned int count = hop__atomic_load_uint(&hop__task_local_key_count);
        if (count >= HOP_TASK_LOCAL_KEYS_MAX)
            return HOP_ENOMEM;
        if (hop__atomic_cas_uint(&hop__task_local_key_count, count, count + 1)) {
            key->inherit = inherit;
            key->destructor = destructor;
            /* The key is complete before another thread can find it. */
            hop__task_local_inherits[count] = inherit;
            hop__task_local_destructors[count] = destructor;
            hop__atomic_store_ptr(&hop__task_local_keys[count], key);
            hop__atomic_fence_release();
            hop__atomic_store_uint(&key->index, count + 1);
            return 0;
        }
    }
}

static unsigned int hop__task_local_slot(const hop_task_local_t *key) {
    unsigned int index = key ? hop__atomic_load_uint((unsigned int *)&key->index) : 0;
    hop__atomic_fence_acquire();
    return index; /* 0: not a created key */
}

int hop_task_local_delete(hop_task_local_t *key) {
    unsigned int index = hop__task_local_slot(key);
    if (!index)
        return HOP_EINVAL;
    hop__atomic_store_ptr(&hop__task_local_keys[index - 1], NULL);
    hop__atomic_store_uint(&key->index, 0);
    return 0;
}

/* The current task's value table, allocated on first use; NULL with *err set
 * when there is no task or no memory. */
static void **hop__task_local_values(int *err) {
    hop_task_t *t = hop_task_current();
    if (!t) {
        *err = HOP_ENOTTASK;
        return NULL;
    }
    void ***slot = (void ***)hop__task_slot(t, &hop__task_local_hook);
    if (!*slot) {
        *slot = hop__calloc(HOP_TASK_LOCAL_KEYS_MAX, sizeof **slot);
        if (!*slot)
            *err = HOP_ENOMEM;
    }
    return *slot;
}

int hop_task_local_set(hop_task_local_t *key, void *value) {
    unsigned int index = hop__task_local_slot(key);
    if (!index)
        return HOP_EINVAL;
    int err = 0;
    void **values = hop__task_local_values(&err);
    if (!values)
        return err;
    void *old = values[index - 1];
    values[index - 1] = value;
    if (old && old != value && key->destructor)
        key->destructor(old);
    return 0;
}

int hop_task_local_set_token(hop_task_local_t *key, void *value, hop_task_local_token_t *token) {
    unsigned int index = hop__task_local_slot(key);
    if (!index || !token)
        return HOP_EINVAL;
    int err = 0;
    void **values = hop__task_local_values(&err);
    if (!values)
        return err;
    token->key = key;
    token->task = hop_task_current();
    token->previous = values[index - 1];
    token->state = HOP__TASK_LOCAL_TOKEN_SET;
    values[index - 1] = value;
    return 0;
}

int hop_task_local_reset(hop_task_local_t *key, hop_task_local_token_t *token) {
    unsigned int index = hop__task_local_slot(key);
    if (!index || !token || token->key != key)
        return HOP_EINVAL;
    if (token->state == HOP__TASK_LOCAL_TOKEN_USED)
        return HOP_EALREADY;
    if (token->state != HOP__TASK_LOCAL_TOKEN_SET)
        return HOP_EINVAL;
    hop_task_t *t = hop_task_current();
    if (!t)
        return HOP_ENOTTASK;
    if (token->task != t)
        return HOP_EINVAL;
    void **values = *hop__task_slot(t, &hop__task_local_hook);
    if (!values) /* set_token allocates the table: this task never took a token */
        return HOP_EINVAL;
    void *current = values[index - 1];
    values[index - 1] = token->previous;
    token->state = HOP__TASK_LOCAL_TOKEN_USED;
    if (current && current != token->previous && key->destructor)
        key->destructor(current);
    return 0;
}

void *hop_task_local_get(const hop_task_local_t *key) {
    unsigned int index = hop__task_local_slot(key);
    hop_task_t *t = hop_task_current();
    if (!index || !t)
        return NULL;
    void **values = *hop__task_slot(t, &hop__task_local_hook);
    return values ? values[index - 1] : NULL;
}

static int hop__task_locals_inherit(void *parent_values, void **child_values) {
    void **parent = parent_values;
    unsigned int count = hop__atomic_load_uint(&hop__task_local_key_count);
    void **values = NULL;
    for (unsigned int i = 0; i < count; i++) {
        void *value = parent[i];
        /* A value in slot i was set after its key was published (acquire in
         * hop__task_local_slot), so the slot's functions are visible. A
         * deleted key passes nothing on. */
        hop_task_local_inherit_fn inherit = hop__task_local_inherits[i];
        if (!value || !inherit || !hop__atomic_load_ptr(&hop__task_local_keys[i]))
            continue;
        if (!values) {
            values = hop__calloc(HOP_TASK_LOCAL_KEYS_MAX, sizeof *values);
            if (!values)
                return HOP_ENOMEM;
        }
        values[i] = inherit(value);
    }
    *child_values = values;
    return 0;
}

static void hop__task_locals_destroy(hop_task_t *t, void *table) {
    (void)t;
    void **values = table;
    unsigned int count = hop__atomic_load_uint(&hop__task_local_key_count);
    for (unsigned int i = 0; i < count; i++) {
        if (values[i] && hop__task_local_destructors[i])
            hop__task_local_destructors[i](values[i]);
    }
    free(values);
}

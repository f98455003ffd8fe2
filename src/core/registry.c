/* src/core/registry.c: every live task, for hop_task_snapshot / hop_task_dump
 * (hop/debug.h) and for debuggers (gdb/hop-gdb.py reads hop__registry_head).
 *
 * Free on the spawn path. A task record sits at the top of its stack mapping
 * (hop__task_record), so the registry does not list tasks: it lists stack
 * mappings, which change only when a stack is mapped or unmapped (system
 * calls already, and rare: stacks are cached), and a snapshot reads the
 * record of each mapping and keeps the live ones. What a spawn adds is a few
 * plain stores, and a finish one.
 *
 * Reading records that other threads reuse meanwhile: the fields a snapshot
 * reads sit in the record's head, which the spawn's memset leaves alone and
 * which is written only with atomic stores; the ones set at spawn (name,
 * parent, spawn site, stack size) are published under a sequence lock
 * (registry_seq: odd while a spawn writes them), so a snapshot that raced a
 * reuse sees the count change and reads again instead of mixing two tasks.
 * A mapping is unmapped only after it has left the list, under the lock a
 * snapshot holds, so a snapshot never reads unmapped memory. */
#define _GNU_SOURCE /* process_vm_readv */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "hop/debug.h"
#include "task_internal.h"

typedef struct hop__registry_node_s {
    struct hop__registry_node_s *prev, *next;
    hop__stack_t stack;
} hop__registry_node_t;

static pthread_mutex_t hop__registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* Not static: gdb/hop-gdb.py walks it by name. Guarded by the lock. */
hop__registry_node_t *hop__registry_head;

int hop__registry_stack_mapped(hop__stack_t *stack) {
    hop__registry_node_t *node = hop__malloc(sizeof *node);
    if (!node)
        return HOP_ENOMEM;
    node->stack = *stack;
    node->stack.registry_node = node;
    node->prev = NULL;
    pthread_mutex_lock(&hop__registry_lock);
    node->next = hop__registry_head;
    if (node->next)
        node->next->prev = node;
    hop__registry_head = node;
    pthread_mutex_unlock(&hop__registry_lock);
    stack->registry_node = node;
    return 0;
}

void hop__registry_stack_unmapped(const hop__stack_t *stack) {
    hop__registry_node_t *node = stack->registry_node;
    if (!node)
        return;
    pthread_mutex_lock(&hop__registry_lock);
    if (node->prev)
        node->prev->next = node->next;
    else
        hop__registry_head = node->next;
    if (node->next)
        node->next->prev = node->prev;
    pthread_mutex_unlock(&hop__registry_lock);
    free(node);
}

void hop__registry_task_publish(hop_task_t *t, uint64_t id, const char *name, const hop_task_t *parent,
                                const char *file, int line, size_t stack_usable) {
    unsigned int seq = hop__atomic_load_uint(&t->registry_seq);
    hop__atomic_store_uint(&t->registry_seq, seq + 1u); /* odd: being written */
    hop__atomic_fence_release();                        /* ...before any field changes */
    /* Relaxed: the sequence lock orders them. */
    __atomic_store_n(&t->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&t->parent, parent, __ATOMIC_RELAXED);
    __atomic_store_n(&t->parent_id, parent ? __atomic_load_n(&parent->id, __ATOMIC_RELAXED) : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->spawn_file, file, __ATOMIC_RELAXED);
    __atomic_store_n(&t->spawn_line, line, __ATOMIC_RELAXED);
    __atomic_store_n(&t->stack_usable, stack_usable, __ATOMIC_RELAXED);
    size_t i = 0;
    if (name)
        for (; name[i] && i < sizeof t->name - 1; i++)
            __atomic_store_n(&t->name[i], name[i], __ATOMIC_RELAXED);
    __atomic_store_n(&t->name[i], '\0', __ATOMIC_RELAXED);
    hop__atomic_store_uint(&t->registry_live, 1u);
    hop__atomic_fence_release();
    hop__atomic_store_uint(&t->registry_seq, seq + 2u); /* even: consistent */
}

/* The most of an awaitable the dump copies for its describe op. */
#define HOP__DESCRIBE_COPY_MAX 1024

/* Reads of a suspended task's awaitable from the dumping thread, while the
 * task may be leaving it (resumed on another thread, finished): the bytes
 * may be stale or torn, and the memory may be gone altogether (under
 * AddressSanitizer an awaitable lives on the task's fake stack, which is
 * unmapped when the task finishes, and a registered task finishes before it
 * leaves the registry). So they go through process_vm_readv on this very
 * process: the kernel copies what is mapped and answers EFAULT for what is
 * not, instead of a fault here, and neither sanitizer sees the copy (they
 * would rightly see a race with the task's own writes). Returns whether all
 * size bytes were copied; where the call is refused (a seccomp filter), the
 * dump shows awaitables' static names only. hop__registry_still_on tells
 * afterwards whether what was copied was the await's own, stable memory. */
static bool hop__registry_peek(void *to, const void *from, size_t size) {
    struct iovec local = {.iov_base = to, .iov_len = size};
    struct iovec remote = {.iov_base = (void *)from, .iov_len = size};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)size;
}

/* Whether t is suspended on aw in the await of generation, which then has
 * lasted since generation was read at aw: the task's state and current
 * awaitable say it is suspended on aw now, and the task's own count of
 * awaits (which only grows, and which every await's generation is taken
 * from as it starts) says its latest await is that one, so if that is the
 * one read before, the task has been in that one await all along, and has
 * not touched what it set up before awaiting. The count is what makes this
 * sound: the generation word at aw alone is not, since between awaits the
 * task's frames reuse that memory, and the same call path leaves the same
 * word there (a return address) at two different moments. */
static bool hop__registry_still_on(const hop_task_t *t, const hop_awaitable_t *aw, uint64_t generation) {
    hop__atomic_fence_acquire();
    uint64_t now = 0, count = 0;
    return generation && hop__atomic_load_uint((unsigned int *)&t->state) == HOP_TASK_SUSPENDED &&
           hop__atomic_load_ptr((const hop_awaitable_t **)&t->await_current) == aw &&
           hop__registry_peek(&count, &t->await_generation, sizeof count) && count == generation &&
           hop__registry_peek(&now, &aw->generation, sizeof now) && now == generation;
}

/* Writes into detail what t's current await, on aw, says of itself (its
 * ops' describe, hop/awaitable.h), or "" when it has no describe or t
 * moved on. aw is read only through hop__registry_peek (it may be gone);
 * describe gets a copy, checked to be the await's own, and never the live
 * awaitable. */
static void hop__registry_describe(const hop_task_t *t, const hop_awaitable_t *aw, char *detail, size_t size) {
    detail[0] = '\0';
    if (!aw)
        return;
    uint64_t generation = 0;
    const hop_awaitable_ops_t *ops = NULL;
    if (!hop__registry_peek(&generation, &aw->generation, sizeof generation))
        return;
    hop__atomic_fence_acquire();
    if (!hop__registry_peek(&ops, &aw->ops, sizeof ops) || !hop__registry_still_on(t, aw, generation))
        return; /* ops may be anything: not followed */
    size_t copy_size = ops->describe_size;
    if (!ops->describe || copy_size < sizeof(hop_awaitable_t) || copy_size > HOP__DESCRIBE_COPY_MAX)
        return;
    union {
        uintptr_t words[HOP__DESCRIBE_COPY_MAX / sizeof(uintptr_t)];
        max_align_t align;
        hop_awaitable_t awaitable;
    } copy;
    if (!hop__registry_peek(copy.words, aw, copy_size) || !hop__registry_still_on(t, aw, generation) ||
        copy.awaitable.generation != generation)
        return; /* resumed meanwhile: the copy may be torn */
    ops->describe(&copy.awaitable, detail, size);
    detail[size - 1] = '\0';
}

/* Copies t into info if it is a live task; returns whether it is. With
 * detail (size bytes), also what a suspended t's awaitable describes. */
static bool hop__registry_read(const hop_task_t *t, hop_task_info_t *info, char *detail, size_t size) {
    unsigned int *seq_word = (unsigned int *)&t->registry_seq;
    for (int attempt = 0; attempt < 4; attempt++) {
        unsigned int seq = hop__atomic_load_uint(seq_word);
        hop__atomic_fence_acquire();
        if (seq & 1u)
            continue; /* a spawn is writing: the task is not live yet */
        if (!hop__atomic_load_uint((unsigned int *)&t->registry_live))
            return false;
        memset(info, 0, sizeof *info);
        info->task = (hop_task_t *)t;
        info->id = __atomic_load_n(&t->id, __ATOMIC_RELAXED);
        info->parent = __atomic_load_n(&t->parent, __ATOMIC_RELAXED);
        info->parent_id = __atomic_load_n(&t->parent_id, __ATOMIC_RELAXED);
        info->spawn_file = __atomic_load_n(&t->spawn_file, __ATOMIC_RELAXED);
        info->spawn_line = __atomic_load_n(&t->spawn_line, __ATOMIC_RELAXED);
        info->stack_size = __atomic_load_n(&t->stack_usable, __ATOMIC_RELAXED);
        for (size_t i = 0; i < sizeof info->name - 1 && i < sizeof t->name; i++)
            if ((info->name[i] = __atomic_load_n(&t->name[i], __ATOMIC_RELAXED)) == '\0')
                break;
        /* The live fields: each a snapshot of its own. */
        info->state = (hop_task_state_t)hop__atomic_load_uint((unsigned int *)&t->state);
        info->executor = hop__atomic_load_ptr((hop_executor_t **)&t->executor);
        const char *await_name = hop__atomic_load_ptr((const char **)&t->await_name);
        const hop_awaitable_t *await_current = hop__atomic_load_ptr((const hop_awaitable_t **)&t->await_current);
        hop__atomic_fence_acquire();
        if (hop__atomic_load_uint(seq_word) != seq)
            continue; /* reused meanwhile: read it again */
        if (info->state == HOP_TASK_DONE || info->state == HOP_TASK_CANCELLED)
            return false; /* finishing right now */
        info->executor_kind = hop_executor_name(info->executor);
        if (info->state == HOP_TASK_SUSPENDED)
            info->waiting_on = await_name ? await_name : "awaitable";
        if (detail) {
            detail[0] = '\0';
            if (info->state == HOP_TASK_SUSPENDED)
                hop__registry_describe(t, await_current, detail, size);
        }
        return true;
    }
    return false; /* respawned under our eyes four times: leave it out */
}

bool hop__registry_find(const hop_task_t *task, hop_task_info_t *info) {
    bool found = false;
    pthread_mutex_lock(&hop__registry_lock);
    for (const hop__registry_node_t *node = hop__registry_head; node; node = node->next)
        if (hop__task_record(&node->stack) == task) {
            found = hop__registry_read(task, info, NULL, 0);
            break;
        }
    pthread_mutex_unlock(&hop__registry_lock);
    return found;
}

/* The dump's detail per task: what hop's own describes write fits. */
#define HOP__DETAIL_MAX 96

/* hop_task_snapshot, with details[i] for infos[i] when details is not NULL. */
static void hop__registry_snapshot(hop_task_info_t *infos, char (*details)[HOP__DETAIL_MAX], size_t capacity,
                                   size_t *count) {
    size_t n = 0;
    hop_task_info_t scratch;
    char scratch_detail[HOP__DETAIL_MAX];
    pthread_mutex_lock(&hop__registry_lock);
    for (const hop__registry_node_t *node = hop__registry_head; node; node = node->next) {
        hop_task_info_t *info = n < capacity ? &infos[n] : &scratch;
        char *detail = !details ? NULL : n < capacity ? details[n] : scratch_detail;
        if (hop__registry_read(hop__task_record(&node->stack), info, detail, HOP__DETAIL_MAX))
            n++;
    }
    pthread_mutex_unlock(&hop__registry_lock);
    *count = n;
}

int hop_task_snapshot(hop_task_info_t *infos, size_t capacity, size_t *count) {
    if (!count || (!infos && capacity > 0))
        return HOP_EINVAL;
    hop__registry_snapshot(infos, NULL, capacity, count);
    return 0;
}

int hop_task_dump(FILE *out, unsigned int flags) {
    if (!out || flags != 0)
        return HOP_EINVAL;
    hop_task_info_t *infos = NULL;
    char (*details)[HOP__DETAIL_MAX] = NULL;
    size_t capacity = 0, count = 0;
    /* Tasks come and go between the count and the copy: retry with room to
     * spare until the copy fits. */
    for (;;) {
        hop__registry_snapshot(infos, details, capacity, &count);
        if (count <= capacity)
            break;
        free(infos);
        free(details);
        capacity = count + count / 4 + 16;
        infos = hop__malloc(capacity * sizeof *infos);
        details = hop__malloc(capacity * sizeof *details);
        if (!infos || !details) {
            free(infos);
            free(details);
            return HOP_ENOMEM;
        }
    }
    for (size_t i = 0; i < count; i++) {
        const hop_task_info_t *info = &infos[i];
        fprintf(out, "task %llu \"%s\" %s on %s %p", (unsigned long long)info->id, info->name,
                hop_task_state_name(info->state), info->executor_kind, (void *)info->executor);
        if (info->waiting_on)
            fprintf(out, ", waiting on \"%s\"", details[i][0] ? details[i] : info->waiting_on);
        if (info->parent_id)
            fprintf(out, ", parent %llu", (unsigned long long)info->parent_id);
        if (info->spawn_file)
            fprintf(out, ", spawned at %s:%d", info->spawn_file, info->spawn_line);
        fprintf(out, ", stack %zu KiB\n", info->stack_size / 1024);
    }
    fprintf(out, "%zu task%s\n", count, count == 1 ? "" : "s");
    fflush(out);
    free(infos);
    free(details);
    return count > (size_t)INT32_MAX ? INT32_MAX : (int)count;
}

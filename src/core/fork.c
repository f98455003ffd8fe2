/* src/core/fork.c: the executors' registry for fork() (fork.h). */
#include "fork.h"

#include <pthread.h>
#include <stddef.h>

#include "stack.h"

static pthread_mutex_t hop__fork_lock = PTHREAD_MUTEX_INITIALIZER;
static hop__fork_entry_t *hop__fork_head; /* guarded by hop__fork_lock */
static pthread_once_t hop__fork_once = PTHREAD_ONCE_INIT;

/* Before the fork: no thread is inside the registry or the stack cache's
 * shared lock, so the child finds both consistent and unlocked. */
static void hop__fork_prepare(void) {
    pthread_mutex_lock(&hop__fork_lock);
    hop__stack_fork_prepare();
}

static void hop__fork_parent(void) {
    hop__stack_fork_parent();
    pthread_mutex_unlock(&hop__fork_lock);
}

static void hop__fork_child(void) {
    hop__stack_fork_child();
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    hop__fork_lock = fresh;
    hop__fork_entry_t *entry = hop__fork_head;
    hop__fork_head = NULL;
    while (entry) {
        hop__fork_entry_t *next = entry->next;
        entry->prev = entry->next = NULL;
        entry->child(entry);
        entry = next;
    }
}

static void hop__fork_register_once(void) {
    (void)pthread_atfork(hop__fork_prepare, hop__fork_parent, hop__fork_child);
}

void hop__fork_register(void) { pthread_once(&hop__fork_once, hop__fork_register_once); }

void hop__fork_track(hop__fork_entry_t *entry, void (*child)(hop__fork_entry_t *entry)) {
    hop__fork_register();
    entry->child = child;
    entry->prev = NULL;
    pthread_mutex_lock(&hop__fork_lock);
    entry->next = hop__fork_head;
    if (hop__fork_head)
        hop__fork_head->prev = entry;
    hop__fork_head = entry;
    pthread_mutex_unlock(&hop__fork_lock);
}

void hop__fork_untrack(hop__fork_entry_t *entry) {
    pthread_mutex_lock(&hop__fork_lock);
    if (entry->prev)
        entry->prev->next = entry->next;
    else if (hop__fork_head == entry)
        hop__fork_head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    entry->prev = entry->next = NULL;
    pthread_mutex_unlock(&hop__fork_lock);
}

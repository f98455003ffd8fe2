/* examples/lazy_service.c: a "database connection" that 20 tasks on a pool
 * and a loop all want at once: it is connected once (a 50 ms async init),
 * shared, and closed when the scope ends (see lazy_service.h). */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <hop/hop.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lazy_service.h"

typedef struct {
    int id;
    atomic_int queries;
} connection_t;

static atomic_int connects, closes;

static int connect_db(void *arg, void **service) {
    (void)arg;
    printf("  connecting (in task \"%s\")...\n", hop_task_name(hop_task_current()));
    int err = hop_sleep(50); /* the handshake: this task suspends, nobody blocks */
    if (err)
        return err;
    connection_t *c = malloc(sizeof *c);
    if (!c)
        return HOP_ENOMEM;
    c->id = atomic_fetch_add(&connects, 1) + 1;
    atomic_init(&c->queries, 0);
    printf("  connected: connection #%d\n", c->id);
    *service = c;
    return 0;
}

static void close_db(void *service, void *arg) {
    (void)arg;
    connection_t *c = service;
    printf("  closing connection #%d after %d queries\n", c->id, atomic_load(&c->queries));
    atomic_fetch_add(&closes, 1);
    free(c);
}

static lazy_service_t db;

static void *user(void *arg) {
    (void)arg;
    void *service = NULL;
    int err = lazy_service_acquire(&db, &service);
    if (err)
        return (void *)(intptr_t)err;
    connection_t *c = service;
    atomic_fetch_add(&c->queries, 1);
    hop_sleep(5); /* use it for a while */
    lazy_service_release(&db);
    return (void *)(intptr_t)c->id;
}

static void *ender(void *arg) {
    (void)arg;
    return (void *)(intptr_t)lazy_service_end(&db);
}

int main(void) {
    hop_pool_t pool;
    hop_loop_t loop;
    if (hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}) ||
        hop_loop_init(&loop, NULL) || hop_loop_start(&loop))
        return 1;
    lazy_service_begin(&db, connect_db, close_db, NULL);
    printf("20 tasks on a pool and a loop acquire the service at once:\n");

    enum { USERS = 20 };
    hop_task_t *tasks[USERS];
    char names[USERS][16];
    for (int i = 0; i < USERS; i++) {
        snprintf(names[i], sizeof names[i], "user-%d", i);
        hop_task_options_t options = {.name = names[i]};
        hop_task_spawn(i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop), user, NULL, &options,
                       &tasks[i]);
    }
    int failures = 0;
    for (int i = 0; i < USERS; i++) {
        void *id = NULL;
        hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &id);
        failures += id != (void *)1; /* everyone got connection #1 */
        hop_task_unref(tasks[i]);
    }

    printf("the scope ends:\n");
    hop_task_t *t;
    hop_task_spawn(hop_loop_executor(&loop), ender, NULL, NULL, &t);
    void *ended = (void *)1;
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &ended);
    hop_task_unref(t);
    failures += ended != NULL;

    lazy_service_stats_t s = {0};
    lazy_service_stats(&db, &s);
    printf("stats: %llu init(s) taking %.1f ms, %llu accesses, %ld users now, %d close(s)\n",
           (unsigned long long)s.inits, (double)s.init_ns / 1e6, (unsigned long long)s.accesses, s.users,
           atomic_load(&closes));
    failures += s.inits != 1 || s.accesses != USERS || s.users != 0 || atomic_load(&closes) != 1;

    hop_loop_close(&loop);
    hop_pool_close(&pool);
    if (failures)
        printf("FAILED: %d checks\n", failures);
    return failures ? 1 : 0;
}

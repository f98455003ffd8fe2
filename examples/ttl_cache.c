/* examples/ttl_cache.c: a configuration value cached for 300 ms, read by
 * many pool tasks at once (see ttl_cache.h). The fetch pretends to be a
 * 30 ms network call; however many tasks miss together, it runs once. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <hop/hop.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ttl_cache.h"

static atomic_int version;   /* what the "server" returns next */
static atomic_int fail_next; /* make the next fetch fail */

static int fetch_config(void *arg, void **value) {
    (void)arg;
    hop_sleep(30); /* the round trip: the task suspends, its thread does not */
    if (atomic_exchange(&fail_next, 0))
        return HOP_ETIMEDOUT;
    *value = (void *)(intptr_t)atomic_fetch_add(&version, 1);
    return 0;
}

static void *reader(void *arg) {
    void *value = NULL;
    int err = ttl_cache_get(arg, &value);
    return err ? (void *)(intptr_t)err : value;
}

/* Spawns n readers on executor at once and returns how many saw want. */
static int read_together(hop_executor_t *executor, ttl_cache_t *cache, int n, intptr_t want) {
    hop_task_t *tasks[16];
    int agree = 0;
    for (int i = 0; i < n; i++)
        hop_task_spawn(executor, reader, cache, NULL, &tasks[i]);
    for (int i = 0; i < n; i++) {
        void *value = NULL;
        hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &value);
        agree += (intptr_t)value == want;
        hop_task_unref(tasks[i]);
    }
    return agree;
}

static void report(ttl_cache_t *cache, const char *what) {
    ttl_cache_stats_t s = {0};
    ttl_cache_stats(cache, &s);
    printf("%-44s fetches %llu, hits %llu, misses %llu, failed fetches %llu\n", what,
           (unsigned long long)s.fetches, (unsigned long long)s.hits, (unsigned long long)s.misses,
           (unsigned long long)s.fetch_failures);
}

int main(void) {
    hop_pool_t pool;
    if (hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}) != 0)
        return 1;
    hop_executor_t *executor = hop_pool_executor(&pool);
    ttl_cache_t cache;
    ttl_cache_init(&cache, 300, fetch_config, NULL);
    atomic_store(&version, 1);
    int failures = 0;

    failures += read_together(executor, &cache, 16, 1) != 16;
    report(&cache, "16 tasks miss together:");
    failures += read_together(executor, &cache, 16, 1) != 16;
    report(&cache, "16 more while the value is fresh:");

    struct timespec pause = {0, 350 * 1000000L};
    nanosleep(&pause, NULL);
    failures += read_together(executor, &cache, 4, 2) != 4;
    report(&cache, "4 after the 300 ms TTL passed:");

    ttl_cache_invalidate(&cache);
    failures += read_together(executor, &cache, 4, 3) != 4;
    report(&cache, "4 after ttl_cache_invalidate:");

    ttl_cache_invalidate(&cache);
    atomic_store(&fail_next, 1);
    failures += read_together(executor, &cache, 4, HOP_ETIMEDOUT) != 4;
    report(&cache, "4 while the fetch fails (HOP_ETIMEDOUT):");
    failures += read_together(executor, &cache, 4, 4) != 4;
    report(&cache, "4 more: the failure was not cached:");

    ttl_cache_stats_t s = {0};
    ttl_cache_stats(&cache, &s);
    failures += s.fetches != 5;
    ttl_cache_destroy(&cache);
    hop_pool_close(&pool);
    if (failures)
        printf("FAILED: %d checks\n", failures);
    return failures ? 1 : 0;
}

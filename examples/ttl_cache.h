/* examples/ttl_cache.h: a cached result with a time to live, fetched once
 * however many tasks miss at the same time.
 *
 *     ttl_cache_t cache;
 *     ttl_cache_init(&cache, 5000, fetch_config, conn);   // 5 s TTL
 *     void *config;
 *     int err = ttl_cache_get(&cache, &config);   // any task, any executor
 *     ttl_cache_invalidate(&cache);               // next get fetches again
 *
 * The asyncio idiom is an `async def get()` that keeps the value with a
 * timestamp and, on a miss, stores an asyncio.Future (or Task) that other
 * callers await instead of fetching again; in C# a cached Task<T> or
 * Lazy<Task<T>> with an expiry. Here the in-flight fetch is a hop_future_t
 * ("a flight"), so waiters on any executor, on any thread, can await it.
 *
 * Guarantees:
 *   - get returns the cached value while it is fresh (hop_time_now_ns()
 *     before the expiry set when it was stored: stored + ttl_ms), without
 *     suspending;
 *   - on a miss, exactly one caller (the first) runs fetch, in its own task;
 *     every caller that misses while that fetch is in flight awaits its
 *     outcome instead, on its own executor. The "single flight" holds across
 *     threads: the cache's lock is held only for a few pointer writes, never
 *     across an await;
 *   - a successful fetch is stored, with a new expiry, and handed to every
 *     waiter; a failed fetch is handed to its waiters too but never stored:
 *     the next get fetches again;
 *   - invalidate() drops the cached value at once; a fetch in flight at that
 *     moment still answers its own waiters but its value is not stored (it
 *     may be stale), and the next get starts a new fetch;
 *   - a waiter cancelled while it awaits leaves with HOP_ECANCELED and the
 *     fetch goes on for the others. If the fetching task itself is cancelled
 *     (its fetch returns HOP_ECANCELED), its waiters are not: they retry,
 *     and one of them fetches.
 *
 * Values: by default the cache does not own them (numbers, static data). To
 * cache heap objects, give ref/unref (reference counting): the cache holds
 * one reference to the stored value, get hands the caller a reference of
 * its own (release it with unref), so invalidate never frees a value
 * someone is still using. ref and unref may run on any thread.
 *
 * Threads: fetch runs in the task of the caller that missed first, on that
 * task's executor (it may offload, hop_run_in_executor); get may be called
 * from any task on any executor; invalidate, stats and destroy from any
 * thread (destroy once nobody uses the cache). */
#ifndef EXAMPLES_TTL_CACHE_H
#define EXAMPLES_TTL_CACHE_H

#include <hop/hop.h>
#include <pthread.h>
#include <stdlib.h>

/* Produces the value: runs in the calling task and may await. Returns 0
 * with a value in *value (one reference, if the cache counts them), or a
 * negative error (a positive return counts as HOP_ESTATE). */
typedef int (*ttl_fetch_fn)(void *arg, void **value);
typedef void *(*ttl_ref_fn)(void *value);
typedef void (*ttl_unref_fn)(void *value);

/* One fetch in flight, shared by its fetcher and waiters: heap-allocated
 * and reference counted (under the cache's lock), because a waiter reads the
 * future after the fetcher has moved on. */
typedef struct {
    hop_future_t future;
    int refs;
} ttl_flight_t;

typedef struct {
    pthread_mutex_t lock;
    /* guarded by lock: */
    void *value;
    bool has_value;
    uint64_t expires_ns;
    uint64_t epoch;       /* bumped by invalidate: a fetch started before it is not stored */
    ttl_flight_t *flight; /* the fetch in flight, or NULL */
    uint64_t hits, misses, fetches, fetch_failures;
    /* fixed at init: */
    uint64_t ttl_ns;
    ttl_fetch_fn fetch;
    void *fetch_arg;
    ttl_ref_fn ref;
    ttl_unref_fn unref;
} ttl_cache_t;

typedef struct {
    uint64_t hits;           /* gets answered from the cache */
    uint64_t misses;         /* gets that fetched or awaited a fetch */
    uint64_t fetches;        /* fetch calls made */
    uint64_t fetch_failures; /* fetch calls that returned an error */
} ttl_cache_stats_t;

/* ttl_cache_init_counted: an empty cache whose values live ttl_ms
 * milliseconds, counted with ref and unref. ref and unref are both NULL (values not owned) or both set. Not
 * thread-safe against other use of cache. Returns 0, or HOP_EINVAL (NULL
 * cache or fetch, ttl_ms < 0, only one of ref/unref). */
static inline int ttl_cache_init_counted(ttl_cache_t *cache, int64_t ttl_ms, ttl_fetch_fn fetch,
                                         void *fetch_arg, ttl_ref_fn ref, ttl_unref_fn unref) {
    if (!cache || !fetch || ttl_ms < 0 || (!ref) != (!unref))
        return HOP_EINVAL;
    *cache = (ttl_cache_t){.ttl_ns = (uint64_t)ttl_ms * 1000000u,
                           .fetch = fetch,
                           .fetch_arg = fetch_arg,
                           .ref = ref,
                           .unref = unref};
    pthread_mutex_init(&cache->lock, NULL);
    return 0;
}

/* ttl_cache_init: the same for values the cache does not own. */
static inline int ttl_cache_init(ttl_cache_t *cache, int64_t ttl_ms, ttl_fetch_fn fetch, void *fetch_arg) {
    return ttl_cache_init_counted(cache, ttl_ms, fetch, fetch_arg, NULL, NULL);
}

static inline void *ttl_cache__ref(ttl_cache_t *c, void *value) { return c->ref ? c->ref(value) : value; }
static inline void ttl_cache__unref(ttl_cache_t *c, void *value) {
    if (c->unref)
        c->unref(value);
}

/* Drops one reference to flight; the last one frees it along with the
 * reference the flight holds on a successful value. */
static inline void ttl_cache__flight_release(ttl_cache_t *c, ttl_flight_t *flight) {
    pthread_mutex_lock(&c->lock);
    int refs = --flight->refs;
    pthread_mutex_unlock(&c->lock);
    if (refs == 0) {
        void *value;
        if (hop_future_result(&flight->future, &value) == 0)
            ttl_cache__unref(c, value);
        free(flight);
    }
}

/* ttl_cache_get: the cached value if fresh, else the outcome of the one
 * fetch in flight (started by this call if there is none). Task only (a
 * miss suspends). On success *value holds the value (a reference of the
 * caller's own if the cache counts references: unref it when done).
 * Returns 0; fetch's error (not cached); HOP_EINVAL (NULL argument);
 * HOP_ENOTTASK; HOP_ECANCELED (the calling task was cancelled); HOP_ENOMEM. */
static inline int ttl_cache_get(ttl_cache_t *cache, void **value) {
    if (!cache || !value)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    for (;;) {
        pthread_mutex_lock(&cache->lock);
        if (cache->has_value && hop_time_now_ns() < cache->expires_ns) {
            cache->hits++;
            *value = ttl_cache__ref(cache, cache->value);
            pthread_mutex_unlock(&cache->lock);
            return 0;
        }
        cache->misses++;
        ttl_flight_t *flight = cache->flight;
        if (flight) {
            /* Someone is fetching: wait for that, holding the flight. */
            flight->refs++;
            pthread_mutex_unlock(&cache->lock);
            void *v = NULL;
            int err = hop_future_await(&flight->future, &v);
            /* The fetcher was cancelled, not us: try again (maybe fetching). */
            bool retry = err == HOP_ECANCELED && hop_future_is_done(&flight->future) &&
                         hop_future_result(&flight->future, NULL) == HOP_ECANCELED;
            if (err == 0)
                *value = ttl_cache__ref(cache, v); /* while the flight still holds it */
            ttl_cache__flight_release(cache, flight);
            if (retry) {
                pthread_mutex_lock(&cache->lock);
                cache->misses--; /* counted again on the next round */
                pthread_mutex_unlock(&cache->lock);
                continue;
            }
            return err;
        }

        /* This caller fetches. */
        flight = malloc(sizeof *flight);
        if (!flight) {
            pthread_mutex_unlock(&cache->lock);
            return HOP_ENOMEM;
        }
        hop_future_init(&flight->future);
        flight->refs = 1;
        cache->flight = flight;
        cache->fetches++;
        uint64_t epoch = cache->epoch;
        pthread_mutex_unlock(&cache->lock);

        void *v = NULL;
        int err = cache->fetch(cache->fetch_arg, &v);
        if (err > 0)
            err = HOP_ESTATE; /* fetch broke its contract; its waiters still need an error */

        void *dropped = NULL;
        bool drop = false;
        pthread_mutex_lock(&cache->lock);
        if (cache->flight == flight)
            cache->flight = NULL; /* from now on a miss starts a new fetch */
        if (err) {
            cache->fetch_failures++;
        } else if (epoch == cache->epoch) {
            if (cache->has_value) {
                dropped = cache->value;
                drop = true;
            }
            cache->value = ttl_cache__ref(cache, v); /* the cache's own reference */
            cache->has_value = true;
            cache->expires_ns = hop_time_now_ns() + cache->ttl_ns;
        }
        if (err == 0)
            *value = ttl_cache__ref(cache, v); /* the caller's */
        pthread_mutex_unlock(&cache->lock);
        if (drop)
            ttl_cache__unref(cache, dropped);

        /* The flight keeps fetch's reference until its last waiter is done. */
        if (err)
            hop_future_set_error(&flight->future, err);
        else
            hop_future_set_result(&flight->future, v);
        ttl_cache__flight_release(cache, flight);
        return err;
    }
}

/* ttl_cache_invalidate: drops the cached value (the next get fetches) and
 * detaches a fetch in flight from the cache (see above). Any thread; never
 * suspends. Returns 0 or HOP_EINVAL. */
static inline int ttl_cache_invalidate(ttl_cache_t *cache) {
    if (!cache)
        return HOP_EINVAL;
    pthread_mutex_lock(&cache->lock);
    void *dropped = cache->value;
    bool drop = cache->has_value;
    cache->has_value = false;
    cache->value = NULL;
    cache->epoch++;
    cache->flight = NULL; /* its fetcher and waiters still hold it */
    pthread_mutex_unlock(&cache->lock);
    if (drop)
        ttl_cache__unref(cache, dropped);
    return 0;
}

/* ttl_cache_stats: the counters so far, read as one snapshot. Any thread.
 * Returns 0 or HOP_EINVAL. */
static inline int ttl_cache_stats(ttl_cache_t *cache, ttl_cache_stats_t *stats) {
    if (!cache || !stats)
        return HOP_EINVAL;
    pthread_mutex_lock(&cache->lock);
    *stats = (ttl_cache_stats_t){cache->hits, cache->misses, cache->fetches, cache->fetch_failures};
    pthread_mutex_unlock(&cache->lock);
    return 0;
}

/* ttl_cache_destroy: drops the cached value and frees the lock. Call it
 * once no task uses the cache any more (none in get). Returns 0 or
 * HOP_EINVAL. */
static inline int ttl_cache_destroy(ttl_cache_t *cache) {
    if (!cache)
        return HOP_EINVAL;
    ttl_cache_invalidate(cache);
    pthread_mutex_destroy(&cache->lock);
    return 0;
}

#endif /* EXAMPLES_TTL_CACHE_H */

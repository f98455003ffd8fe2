/* tests/test_example_ttl_cache.c: the TTL cache of examples/ttl_cache.h:
 * freshness, invalidation, failures that are not cached, one fetch for many
 * concurrent misses (on one thread and across threads), cancellation, and
 * reference-counted values released exactly once. */
#include <pthread.h>
#include <stdatomic.h>

#include "../examples/ttl_cache.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(example_ttl_cache, .init = setup, .fini = teardown, .timeout = 60);

/* A fetch the test controls: it returns next++ or fail_with; if gate is
 * set it first awaits the gate future (so misses can pile up behind it). */
typedef struct {
    atomic_int calls;
    atomic_int next;
    int fail_with;
    hop_future_t *gate;
    int64_t sleep_ms;
} source_t;

static int fetch_from(void *arg, void **value) {
    source_t *s = arg;
    atomic_fetch_add(&s->calls, 1);
    if (s->gate) {
        int err = hop_future_await(s->gate, NULL);
        if (err)
            return err;
    }
    if (s->sleep_ms) {
        int err = hop_sleep(s->sleep_ms);
        if (err)
            return err;
    }
    if (s->fail_with)
        return s->fail_with;
    *value = (void *)(intptr_t)atomic_fetch_add(&s->next, 1);
    return 0;
}

typedef struct {
    ttl_cache_t *cache;
    int status;
    void *value;
} get_t;

static void *get_task(void *arg) {
    get_t *g = arg;
    g->value = NULL;
    g->status = ttl_cache_get(g->cache, &g->value);
    return NULL;
}

static get_t get_now(ttl_cache_t *cache) {
    get_t g = {.cache = cache};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, get_task, &g, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    return g;
}

static source_t make_source(void) {
    source_t s = {.fail_with = 0};
    atomic_init(&s.calls, 0);
    atomic_init(&s.next, 1);
    return s;
}

Test(example_ttl_cache, the_first_get_fetches_and_a_fresh_second_get_is_a_hit) {
    source_t s = make_source();
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    get_t a = get_now(&cache), b = get_now(&cache);
    HOP_OK(a.status);
    HOP_OK(b.status);
    cr_assert_eq(a.value, (void *)1);
    cr_assert_eq(b.value, (void *)1);
    cr_assert_eq(atomic_load(&s.calls), 1);
    ttl_cache_stats_t st;
    HOP_OK(ttl_cache_stats(&cache, &st));
    cr_assert_eq(st.hits, 1);
    cr_assert_eq(st.misses, 1);
    cr_assert_eq(st.fetches, 1);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, a_hit_does_not_suspend_the_task) {
    source_t s = make_source();
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    get_now(&cache);
    get_t g = {.cache = &cache};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, get_task, &g, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(g.value, (void *)1);
    hop_task_unref(t);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, a_get_after_the_ttl_has_passed_fetches_again) {
    source_t s = make_source();
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 30, fetch_from, &s));
    cr_assert_eq(get_now(&cache).value, (void *)1);
    test_sleep_ms(60);
    get_t g = get_now(&cache);
    HOP_OK(g.status);
    cr_assert_eq(g.value, (void *)2);
    cr_assert_eq(atomic_load(&s.calls), 2);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, invalidate_makes_the_next_get_fetch) {
    source_t s = make_source();
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    cr_assert_eq(get_now(&cache).value, (void *)1);
    HOP_OK(ttl_cache_invalidate(&cache));
    cr_assert_eq(get_now(&cache).value, (void *)2);
    cr_assert_eq(get_now(&cache).value, (void *)2);
    cr_assert_eq(atomic_load(&s.calls), 2);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, a_failed_fetch_is_returned_and_not_cached) {
    source_t s = make_source();
    s.fail_with = HOP_ETIMEDOUT;
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    HOP_ERR(get_now(&cache).status, HOP_ETIMEDOUT);
    s.fail_with = 0;
    get_t g = get_now(&cache);
    HOP_OK(g.status);
    cr_assert_eq(g.value, (void *)1);
    cr_assert_eq(atomic_load(&s.calls), 2);
    ttl_cache_stats_t st;
    ttl_cache_stats(&cache, &st);
    cr_assert_eq(st.fetch_failures, 1);
    HOP_OK(ttl_cache_destroy(&cache));
}

/* Spawns n get tasks and runs them up to their awaits. */
static void spawn_gets(ttl_cache_t *cache, get_t *gets, hop_task_t **tasks, int n) {
    for (int i = 0; i < n; i++) {
        gets[i] = (get_t){.cache = cache, .status = 1};
        HOP_OK(hop_task_spawn(manual, get_task, &gets[i], NULL, &tasks[i]));
    }
    hop_manual_executor_run_all(manual, 0);
}

Test(example_ttl_cache, tasks_missing_together_share_one_fetch_and_its_value) {
    source_t s = make_source();
    hop_future_t gate;
    hop_future_init(&gate);
    s.gate = &gate;
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    enum { N = 6 };
    get_t gets[N];
    hop_task_t *tasks[N];
    spawn_gets(&cache, gets, tasks, N);
    cr_assert_eq(atomic_load(&s.calls), 1, "only the first miss fetches");
    for (int i = 0; i < N; i++)
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_SUSPENDED);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE);
        HOP_OK(gets[i].status);
        cr_assert_eq(gets[i].value, (void *)1);
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq(atomic_load(&s.calls), 1);
    ttl_cache_stats_t st;
    ttl_cache_stats(&cache, &st);
    cr_assert_eq(st.misses, N);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, waiters_get_the_fetch_error_and_the_next_get_fetches_again) {
    source_t s = make_source();
    hop_future_t gate;
    hop_future_init(&gate);
    s.gate = &gate;
    s.fail_with = HOP_EBUSY;
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    enum { N = 4 };
    get_t gets[N];
    hop_task_t *tasks[N];
    spawn_gets(&cache, gets, tasks, N);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++) {
        HOP_ERR(gets[i].status, HOP_EBUSY);
        cr_assert_null(gets[i].value);
        hop_task_unref(tasks[i]);
    }
    s.fail_with = 0;
    get_t g = get_now(&cache);
    HOP_OK(g.status);
    cr_assert_eq(atomic_load(&s.calls), 2);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, a_cancelled_waiter_leaves_while_the_fetch_completes_for_the_others) {
    source_t s = make_source();
    hop_future_t gate;
    hop_future_init(&gate);
    s.gate = &gate;
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    enum { N = 3 };
    get_t gets[N];
    hop_task_t *tasks[N];
    spawn_gets(&cache, gets, tasks, N);
    HOP_OK(hop_task_cancel(tasks[1]));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(tasks[1]), HOP_TASK_CANCELLED);
    HOP_ERR(gets[1].status, HOP_ECANCELED);
    cr_assert_eq(hop_task_state(tasks[0]), HOP_TASK_SUSPENDED);
    cr_assert_eq(hop_task_state(tasks[2]), HOP_TASK_SUSPENDED);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(gets[0].status);
    HOP_OK(gets[2].status);
    cr_assert_eq(gets[2].value, (void *)1);
    for (int i = 0; i < N; i++)
        hop_task_unref(tasks[i]);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, when_the_fetching_task_is_cancelled_a_waiter_fetches_instead) {
    source_t s = make_source();
    hop_future_t gate;
    hop_future_init(&gate);
    s.gate = &gate;
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    enum { N = 3 };
    get_t gets[N];
    hop_task_t *tasks[N];
    spawn_gets(&cache, gets, tasks, N);
    HOP_OK(hop_task_cancel(tasks[0])); /* the fetcher */
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(gets[0].status, HOP_ECANCELED);
    cr_assert_eq(atomic_load(&s.calls), 2, "one waiter took over the fetch");
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 1; i < N; i++) {
        HOP_OK(gets[i].status);
        cr_assert_eq(gets[i].value, (void *)1);
    }
    for (int i = 0; i < N; i++)
        hop_task_unref(tasks[i]);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, invalidate_during_a_fetch_answers_its_waiters_but_does_not_store_the_value) {
    source_t s = make_source();
    hop_future_t gate;
    hop_future_init(&gate);
    s.gate = &gate;
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    get_t gets[2];
    hop_task_t *tasks[2];
    spawn_gets(&cache, gets, tasks, 2);
    HOP_OK(ttl_cache_invalidate(&cache));
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(gets[0].value, (void *)1);
    cr_assert_eq(gets[1].value, (void *)1);
    for (int i = 0; i < 2; i++)
        hop_task_unref(tasks[i]);
    get_t g = get_now(&cache); /* the gate is open now: fetches at once */
    cr_assert_eq(g.value, (void *)2);
    cr_assert_eq(atomic_load(&s.calls), 2);
    HOP_OK(ttl_cache_destroy(&cache));
}

Test(example_ttl_cache, bad_arguments_are_rejected) {
    source_t s = make_source();
    ttl_cache_t cache;
    HOP_ERR(ttl_cache_init(NULL, 10, fetch_from, &s), HOP_EINVAL);
    HOP_ERR(ttl_cache_init(&cache, 10, NULL, &s), HOP_EINVAL);
    HOP_ERR(ttl_cache_init(&cache, -1, fetch_from, &s), HOP_EINVAL);
    HOP_ERR(ttl_cache_init_counted(&cache, 10, fetch_from, &s, NULL, (ttl_unref_fn)free), HOP_EINVAL);
    HOP_OK(ttl_cache_init(&cache, 10, fetch_from, &s));
    void *v;
    HOP_ERR(ttl_cache_get(&cache, &v), HOP_ENOTTASK);
    HOP_ERR(ttl_cache_get(NULL, &v), HOP_EINVAL);
    HOP_ERR(ttl_cache_get(&cache, NULL), HOP_EINVAL);
    HOP_ERR(ttl_cache_invalidate(NULL), HOP_EINVAL);
    HOP_ERR(ttl_cache_stats(&cache, NULL), HOP_EINVAL);
    HOP_ERR(ttl_cache_destroy(NULL), HOP_EINVAL);
    HOP_OK(ttl_cache_destroy(&cache));
}

/* Across threads. */
typedef struct {
    ttl_cache_t *cache;
    int rounds;
    int wrong;
} reader_t;

static void *pool_get(void *arg) {
    get_t *g = arg;
    g->status = ttl_cache_get(g->cache, &g->value);
    return NULL;
}

Test(example_ttl_cache, fifty_tasks_on_a_two_worker_pool_missing_at_once_cause_exactly_one_fetch,
     .timeout = 120) {
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    source_t s = make_source();
    s.sleep_ms = 100; /* every task arrives while the first fetch sleeps */
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init(&cache, 60000, fetch_from, &s));
    enum { N = 50 };
    get_t gets[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        gets[i] = (get_t){.cache = &cache, .status = 1};
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), pool_get, &gets[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < N; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        HOP_OK(gets[i].status);
        cr_assert_eq(gets[i].value, (void *)1);
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq(atomic_load(&s.calls), 1);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(ttl_cache_destroy(&cache));
}

/* Reference-counted values: boxes with a magic number and a count. */
#define BOX_MAGIC 0x7711c0deu
typedef struct {
    unsigned int magic;
    atomic_int refs;
    int version;
} box_t;

static atomic_int boxes_alive;
static atomic_int box_versions;
static atomic_int box_errors; /* counted, not asserted: these run on any thread */

static void *box_ref(void *value) {
    box_t *b = value;
    if (b->magic != BOX_MAGIC || atomic_fetch_add(&b->refs, 1) < 1)
        atomic_fetch_add(&box_errors, 1); /* a dead box */
    return b;
}

static void box_unref(void *value) {
    box_t *b = value;
    if (b->magic != BOX_MAGIC)
        atomic_fetch_add(&box_errors, 1);
    int before = atomic_fetch_sub(&b->refs, 1);
    if (before < 1)
        atomic_fetch_add(&box_errors, 1); /* released twice */
    if (before == 1) {
        b->magic = 0;
        free(b);
        atomic_fetch_sub(&boxes_alive, 1);
    }
}

static int fetch_box(void *arg, void **value) {
    int64_t sleep_ms = (int64_t)(intptr_t)arg;
    if (sleep_ms) {
        int err = hop_sleep(sleep_ms);
        if (err)
            return err;
    }
    box_t *b = malloc(sizeof *b);
    b->magic = BOX_MAGIC;
    atomic_init(&b->refs, 1);
    b->version = atomic_fetch_add(&box_versions, 1);
    atomic_fetch_add(&boxes_alive, 1);
    *value = b;
    return 0;
}

static void *box_reader(void *arg) {
    reader_t *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        void *v = NULL;
        int err = ttl_cache_get(r->cache, &v);
        if (err) {
            r->wrong++;
            continue;
        }
        box_t *b = v;
        r->wrong += b->magic != BOX_MAGIC || atomic_load(&b->refs) < 1;
        if (i % 8 == 0)
            hop_yield(); /* hold the value across a suspension now and then */
        r->wrong += b->magic != BOX_MAGIC;
        box_unref(b);
    }
    return NULL;
}

Test(example_ttl_cache, counted_values_are_released_exactly_once) {
    atomic_store(&boxes_alive, 0);
    atomic_store(&box_errors, 0);
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init_counted(&cache, 60000, fetch_box, NULL, box_ref, box_unref));
    reader_t r = {.cache = &cache, .rounds = 20};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, box_reader, &r, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    cr_assert_eq(r.wrong, 0);
    cr_assert_eq(atomic_load(&boxes_alive), 1, "the cache holds the one value");
    HOP_OK(ttl_cache_invalidate(&cache));
    cr_assert_eq(atomic_load(&boxes_alive), 0);
    cr_assert_eq(atomic_load(&box_errors), 0);
    HOP_OK(ttl_cache_destroy(&cache));
}

static atomic_int stop_invalidating;

static void *invalidator(void *arg) {
    while (!atomic_load(&stop_invalidating)) {
        ttl_cache_invalidate(arg);
        test_sleep_ms(1);
    }
    return NULL;
}

Test(example_ttl_cache, readers_on_a_pool_and_a_loop_with_invalidations_from_a_thread_never_see_a_freed_value,
     .timeout = 240) {
    atomic_store(&boxes_alive, 0);
    atomic_store(&box_errors, 0);
    atomic_store(&stop_invalidating, 0);
    hop_pool_t pool;
    hop_loop_t loop;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    ttl_cache_t cache;
    HOP_OK(ttl_cache_init_counted(&cache, 2, fetch_box, (void *)(intptr_t)1, box_ref, box_unref));
    pthread_t thread;
    pthread_create(&thread, NULL, invalidator, &cache);
    enum { N = 24 };
    reader_t readers[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        readers[i] = (reader_t){.cache = &cache, .rounds = 200};
        hop_executor_t *e = i % 3 ? hop_pool_executor(&pool) : hop_loop_executor(&loop);
        HOP_OK(hop_task_spawn(e, box_reader, &readers[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < N; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        cr_assert_eq(readers[i].wrong, 0, "reader %d", i);
        hop_task_unref(tasks[i]);
    }
    atomic_store(&stop_invalidating, 1);
    pthread_join(thread, NULL);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(ttl_cache_destroy(&cache));
    cr_assert_eq(atomic_load(&boxes_alive), 0, "a value leaked");
    cr_assert_eq(atomic_load(&box_errors), 0);
}

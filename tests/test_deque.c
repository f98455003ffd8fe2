/* tests/test_deque.c: the Chase-Lev deque (src/core/deque.h).
 *
 * The single-threaded tests pin down the semantics: LIFO for the owner,
 * FIFO for thieves, a fixed capacity. The stress tests check the one
 * property that matters under concurrency, every element comes out exactly
 * once, where Chase-Lev deques on weak memory keep their bugs: the owner's
 * take racing thieves for the last element, and many elements with
 * wrap-around of the buffer. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/deque.h"
#include "helpers.h"

#if HOP__TSAN
#define STRESS_SCALE 10 /* ThreadSanitizer runs this code some ten times slower */
#else
#define STRESS_SCALE 1
#endif

static hop__deque_t deque;

/* Items are small integers disguised as pointers; 0 would read as NULL. */
#define ITEM(i) ((void *)(uintptr_t)((i) + 1))
#define INDEX(p) ((size_t)(uintptr_t)(p)-1)

Test(deque, the_owner_takes_the_newest_item_and_thieves_the_oldest, .timeout = 10) {
    hop__deque_init(&deque);
    for (size_t i = 0; i < 5; i++)
        cr_assert(hop__deque_push(&deque, ITEM(i)));
    cr_assert_eq(hop__deque_size_hint(&deque), 5);
    void *item = NULL;
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_STOLEN);
    cr_assert_eq(INDEX(item), 0, "thieves take the oldest");
    cr_assert_eq(INDEX(hop__deque_take(&deque)), 4, "the owner takes the newest");
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_STOLEN);
    cr_assert_eq(INDEX(item), 1);
    cr_assert_eq(INDEX(hop__deque_take(&deque)), 3);
    cr_assert_eq(INDEX(hop__deque_take(&deque)), 2, "the last item goes to the owner when nobody races");
    cr_assert_null(hop__deque_take(&deque));
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_EMPTY);
    cr_assert_eq(hop__deque_size_hint(&deque), 0);
}

Test(deque, a_full_deque_refuses_a_push_and_an_empty_one_gives_nothing, .timeout = 10) {
    hop__deque_init(&deque);
    cr_assert_null(hop__deque_take(&deque), "empty from the start");
    cr_assert_null(hop__deque_take(&deque), "a take on an empty deque leaves it consistent");
    for (size_t i = 0; i < HOP__DEQUE_CAPACITY; i++)
        cr_assert(hop__deque_push(&deque, ITEM(i)), "push %zu of %u", i, HOP__DEQUE_CAPACITY);
    cr_assert_not(hop__deque_push(&deque, ITEM(999)), "the capacity is fixed");
    cr_assert_eq(hop__deque_size_hint(&deque), HOP__DEQUE_CAPACITY);
    void *item = NULL;
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_STOLEN);
    cr_assert_eq(INDEX(item), 0);
    cr_assert(hop__deque_push(&deque, ITEM(HOP__DEQUE_CAPACITY)), "a steal makes room");
    for (size_t i = HOP__DEQUE_CAPACITY; i >= 1; i--)
        cr_assert_eq(INDEX(hop__deque_take(&deque)), i);
    cr_assert_null(hop__deque_take(&deque));
}

Test(deque, claiming_the_oldest_items_takes_them_in_order_and_leaves_the_rest, .timeout = 10) {
    hop__deque_init(&deque);
    for (size_t i = 0; i < HOP__DEQUE_CAPACITY; i++)
        cr_assert(hop__deque_push(&deque, ITEM(i)));
    uint64_t first = 0;
    cr_assert(hop__deque_claim_oldest(&deque, HOP__DEQUE_CAPACITY / 2, &first));
    for (size_t i = 0; i < HOP__DEQUE_CAPACITY / 2; i++)
        cr_assert_eq(INDEX(hop__deque_claimed(&deque, first + i)), i);
    cr_assert_eq(hop__deque_size_hint(&deque), HOP__DEQUE_CAPACITY / 2);
    void *item = NULL;
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_STOLEN);
    cr_assert_eq(INDEX(item), HOP__DEQUE_CAPACITY / 2, "thieves continue after the claimed ones");
    cr_assert_not(hop__deque_claim_oldest(&deque, HOP__DEQUE_CAPACITY, &first), "cannot claim more than is there");
}

Test(deque, indices_wrapping_around_two_to_the_64_keep_working, .timeout = 10) {
    hop__deque_init(&deque);
    /* White box: start just below the wrap of the 64-bit indices. */
    hop__atomic_store_u64(&deque.top, UINT64_MAX - 3);
    hop__atomic_store_u64(&deque.bottom, UINT64_MAX - 3);
    cr_assert_null(hop__deque_take(&deque));
    void *item = NULL;
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_EMPTY);
    for (size_t i = 0; i < 10; i++)
        cr_assert(hop__deque_push(&deque, ITEM(i)));
    cr_assert_eq(hop__deque_size_hint(&deque), 10);
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_STOLEN);
    cr_assert_eq(INDEX(item), 0);
    for (size_t i = 9; i >= 1; i--)
        cr_assert_eq(INDEX(hop__deque_take(&deque)), i);
    cr_assert_null(hop__deque_take(&deque));
    cr_assert_eq(hop__deque_steal(&deque, &item), HOP__DEQUE_EMPTY);
}

/* ---- Stress ---------------------------------------------------------------- */

#define THIEVES 3

static unsigned char *seen; /* per item: how many times it came out (atomic) */
static size_t items;
static int stop;
static uint64_t stolen_sum; /* checksum of what thieves got (atomic) */
static uint64_t stolen_count;
static int bogus; /* an item that was never pushed came out (atomic) */
static unsigned int thieves_running; /* atomic */

/* Called by thieves too: no assertion here (Criterion's belong on the test's
 * own thread); stop_thieves_and_check looks at the tallies. */
static void record(size_t index) {
    if (index >= items) {
        __atomic_store_n(&bogus, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(&seen[index], 1, __ATOMIC_RELAXED);
}

static void *thief(void *arg) {
    (void)arg;
    uint64_t sum = 0, count = 0;
    __atomic_fetch_add(&thieves_running, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        void *item;
        if (hop__deque_steal(&deque, &item) == HOP__DEQUE_STOLEN) {
            record(INDEX(item));
            sum += INDEX(item) + 1;
            count++;
        }
    }
    __atomic_fetch_add(&stolen_sum, sum, __ATOMIC_RELAXED);
    __atomic_fetch_add(&stolen_count, count, __ATOMIC_RELAXED);
    return NULL;
}

static pthread_t thieves[THIEVES];

static void start_thieves(size_t n) {
    hop__deque_init(&deque);
    items = n;
    seen = calloc(n, 1);
    cr_assert_not_null(seen);
    stop = 0;
    bogus = 0;
    stolen_sum = stolen_count = 0;
    thieves_running = 0;
    for (int i = 0; i < THIEVES; i++)
        cr_assert_eq(pthread_create(&thieves[i], NULL, thief, NULL), 0);
    /* Race only once every thief is stealing: starting a thread is slow
     * (under TSan above all), and the owner could otherwise finish alone. */
    while (__atomic_load_n(&thieves_running, __ATOMIC_ACQUIRE) < THIEVES)
        sched_yield();
}

static void stop_thieves_and_check(uint64_t owner_sum, uint64_t owner_count) {
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < THIEVES; i++)
        pthread_join(thieves[i], NULL);
    cr_assert_eq(bogus, 0, "an item that was never pushed came out");
    for (size_t i = 0; i < items; i++)
        cr_assert_eq(seen[i], 1, "item %zu came out %d times", i, seen[i]);
    uint64_t expected = (uint64_t)items * (items + 1) / 2;
    cr_assert_eq(owner_count + stolen_count, items);
    cr_assert_eq(owner_sum + stolen_sum, expected, "checksum: %llu + %llu != %llu", (unsigned long long)owner_sum,
                 (unsigned long long)stolen_sum, (unsigned long long)expected);
    free(seen);
}

Test(deque, one_element_races_between_the_owner_take_and_several_thieves_come_out_exactly_once, .timeout = 120) {
    size_t rounds = 200000 / STRESS_SCALE;
    start_thieves(rounds);
    uint64_t sum = 0, count = 0, owner_won = 0;
    unsigned int seed = 12345;
    for (size_t i = 0; i < rounds; i++) {
        cr_assert(hop__deque_push(&deque, ITEM(i)));
        /* A little jitter so the take lands at every point of a steal (a
         * volatile count, not hop__atomic_pause, which is empty under TSan),
         * and now and then a yield so a thief surely gets between. */
        for (volatile int k = rand_r(&seed) % 256; k > 0; k--)
            ;
        if (i % 64 == 0)
            sched_yield();
        void *item = hop__deque_take(&deque);
        if (item) {
            record(INDEX(item));
            sum += INDEX(item) + 1;
            count++;
            owner_won++;
        }
        cr_assert_eq(hop__deque_size_hint(&deque), 0, "the deque is empty after each round");
    }
    stop_thieves_and_check(sum, count);
    cr_assert_gt(owner_won, 0, "the owner never won: the race was not exercised");
    cr_assert_gt(stolen_count, 0, "no thief ever won: the race was not exercised");
}

Test(deque, many_elements_pushed_taken_and_stolen_concurrently_come_out_exactly_once, .timeout = 120) {
    size_t total = 2000000 / STRESS_SCALE;
    start_thieves(total);
    uint64_t sum = 0, count = 0;
    unsigned int seed = 777;
    size_t next = 0;
    while (next < total) {
        /* Bursts of pushes (sometimes to full) then some takes, so indices
         * wrap around the buffer many times and the deque often runs dry. */
        size_t burst = (size_t)(rand_r(&seed) % (HOP__DEQUE_CAPACITY + 32));
        for (size_t k = 0; k < burst && next < total; k++) {
            if (!hop__deque_push(&deque, ITEM(next)))
                break;
            next++;
        }
        size_t takes = (size_t)(rand_r(&seed) % (HOP__DEQUE_CAPACITY / 2));
        for (size_t k = 0; k < takes; k++) {
            void *item = hop__deque_take(&deque);
            if (!item)
                break;
            record(INDEX(item));
            sum += INDEX(item) + 1;
            count++;
        }
    }
    void *item;
    while ((item = hop__deque_take(&deque)) != NULL) {
        record(INDEX(item));
        sum += INDEX(item) + 1;
        count++;
    }
    stop_thieves_and_check(sum, count);
    cr_assert_gt(stolen_count, 0, "no thief ever stole: nothing was exercised");
}

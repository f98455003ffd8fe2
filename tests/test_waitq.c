/* tests/test_waitq.c: the intrusive wait queue (src/core/waitq.h), white-box.
 *
 * The list operations on their own; then the rule every primitive relies
 * on, that a cancel racing a wake-up resolves to exactly one owner, raced
 * between plain threads on bare nodes, and between a waker and a canceller
 * on pool tasks queued several deep, so that withdrawals from the middle of
 * the queue race pops at its head. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "core/waitq.h"
#include "helpers.h"

TestSuite(waitq, .timeout = 60);

/* Pops every node and checks they come out as expected[0..n). */
static void expect_order(hop__waitq_t *q, hop__waitq_node_t **expected, int n) {
    for (int i = 0; i < n; i++) {
        hop__waitq_node_t *got = hop__waitq_pop(q);
        cr_assert_eq(got, expected[i], "pop %d returned the wrong node", i);
        cr_assert_not(got->queued, "a popped node still says it is queued");
    }
    cr_assert_null(hop__waitq_pop(q), "the queue holds more nodes than were left in it");
    cr_assert(hop__waitq_empty(q));
}

Test(waitq, zeroed_storage_and_the_static_initialiser_are_empty_queues) {
    hop__waitq_t zeroed = {0}, initialised = HOP__WAITQ_INIT;
    cr_assert(hop__waitq_empty(&zeroed));
    cr_assert(hop__waitq_empty(&initialised));
    cr_assert_null(hop__waitq_pop(&zeroed));
    cr_assert_null(hop__waitq_take_all(&initialised));
}

Test(waitq, nodes_come_out_in_the_order_they_were_pushed) {
    hop__waitq_t q = HOP__WAITQ_INIT;
    hop__waitq_node_t nodes[5];
    hop__waitq_node_t *order[5];
    for (int i = 0; i < 5; i++) {
        hop__waitq_push(&q, &nodes[i]);
        cr_assert(nodes[i].queued);
        order[i] = &nodes[i];
    }
    expect_order(&q, order, 5);
}

Test(waitq, cancel_unlinks_a_queued_node_at_the_head_in_the_middle_or_at_the_tail) {
    hop__waitq_t q = HOP__WAITQ_INIT;
    hop__waitq_node_t nodes[5];
    for (int i = 0; i < 5; i++)
        hop__waitq_push(&q, &nodes[i]);
    cr_assert(hop__waitq_cancel(&q, &nodes[2]), "middle");
    cr_assert(hop__waitq_cancel(&q, &nodes[0]), "head");
    cr_assert(hop__waitq_cancel(&q, &nodes[4]), "tail");
    cr_assert_not(nodes[2].queued);
    hop__waitq_node_t *order[] = {&nodes[1], &nodes[3]};
    expect_order(&q, order, 2);
}

Test(waitq, cancelling_the_only_node_leaves_an_empty_queue_that_takes_new_nodes) {
    hop__waitq_t q = HOP__WAITQ_INIT;
    hop__waitq_node_t a, b;
    hop__waitq_push(&q, &a);
    cr_assert(hop__waitq_cancel(&q, &a));
    cr_assert(hop__waitq_empty(&q));
    hop__waitq_push(&q, &b);
    hop__waitq_node_t *order[] = {&b};
    expect_order(&q, order, 1);
}

Test(waitq, a_popped_or_already_cancelled_node_cannot_be_cancelled_and_the_queue_is_untouched) {
    hop__waitq_t q = HOP__WAITQ_INIT;
    hop__waitq_node_t nodes[3];
    for (int i = 0; i < 3; i++)
        hop__waitq_push(&q, &nodes[i]);
    cr_assert_eq(hop__waitq_pop(&q), &nodes[0]);
    cr_assert_not(hop__waitq_cancel(&q, &nodes[0]), "a popped node belongs to its waker");
    cr_assert(hop__waitq_cancel(&q, &nodes[1]));
    cr_assert_not(hop__waitq_cancel(&q, &nodes[1]), "a node was withdrawn twice");
    hop__waitq_node_t *order[] = {&nodes[2]};
    expect_order(&q, order, 1);
}

Test(waitq, take_all_empties_the_queue_in_arrival_order_and_no_taken_node_can_be_cancelled) {
    hop__waitq_t q = HOP__WAITQ_INIT;
    hop__waitq_node_t nodes[4];
    for (int i = 0; i < 4; i++)
        hop__waitq_push(&q, &nodes[i]);
    hop__waitq_node_t *list = hop__waitq_take_all(&q);
    cr_assert(hop__waitq_empty(&q));
    int i = 0;
    for (hop__waitq_node_t *n = list; n; n = n->next, i++) {
        cr_assert_eq(n, &nodes[i], "taken node %d out of order", i);
        cr_assert_not(hop__waitq_cancel(&q, n), "a taken node was withdrawn");
    }
    cr_assert_eq(i, 4, "take_all returned %d of 4 nodes", i);
}

/* ---- cancel racing wake-ups on bare nodes, between plain threads ---- */

enum { NODE_OWNER_NONE = 0, NODE_OWNER_WAKER, NODE_OWNER_CANCELLER };

typedef struct {
    hop__spinlock_t lock;
    hop__waitq_t q;
    hop__waitq_node_t *nodes;
    unsigned int *owner; /* per node: who got it */
    unsigned int count;
    unsigned int go;
    unsigned int seed;
    bool take_all; /* the waker wakes everyone at once (event) instead of one by one */
} bare_race_t;

static void bare_claim(bare_race_t *r, hop__waitq_node_t *n, unsigned int who) {
    unsigned int *slot = &r->owner[n - r->nodes];
    unsigned int expected = NODE_OWNER_NONE;
    /* A second claim is the bug under test: record it so the test sees it. */
    if (!__atomic_compare_exchange_n(slot, &expected, who, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        __atomic_store_n(slot, NODE_OWNER_WAKER | NODE_OWNER_CANCELLER | 4u, __ATOMIC_RELEASE);
}

static void *bare_waker(void *arg) {
    bare_race_t *r = arg;
    unsigned int seed = ~r->seed;
    while (!test_load_uint(&r->go))
        sched_yield();
    for (volatile unsigned int i = (unsigned int)rand_r(&seed) % 2000; i > 0; i--)
        ;
    for (;;) {
        hop__spinlock_lock(&r->lock);
        hop__waitq_node_t *n = r->take_all ? hop__waitq_take_all(&r->q) : hop__waitq_pop(&r->q);
        hop__spinlock_unlock(&r->lock);
        if (!n)
            return NULL;
        if (r->take_all) {
            for (; n; n = n->next)
                bare_claim(r, n, NODE_OWNER_WAKER);
            return NULL;
        }
        bare_claim(r, n, NODE_OWNER_WAKER);
    }
}

static void *bare_canceller(void *arg) {
    bare_race_t *r = arg;
    unsigned int seed = r->seed;
    while (!test_load_uint(&r->go))
        sched_yield();
    /* From a random node onwards, so that heads, middles and tails race the waker. */
    unsigned int first = (unsigned int)rand_r(&seed) % r->count;
    for (unsigned int k = 0; k < r->count; k++) {
        hop__waitq_node_t *n = &r->nodes[(first + k) % r->count];
        hop__spinlock_lock(&r->lock);
        bool withdrawn = hop__waitq_cancel(&r->q, n);
        hop__spinlock_unlock(&r->lock);
        if (withdrawn)
            bare_claim(r, n, NODE_OWNER_CANCELLER);
    }
    return NULL;
}

static void bare_race(bool take_all) {
    enum { ROUNDS = 2000, NODES = 8 };
    hop__waitq_node_t nodes[NODES];
    unsigned int owner[NODES];
    unsigned int woken = 0, withdrawn = 0;
    for (unsigned int round = 0; round < ROUNDS; round++) {
        bare_race_t r = {.nodes = nodes, .owner = owner, .count = NODES, .seed = round, .take_all = take_all};
        for (int i = 0; i < NODES; i++) {
            owner[i] = NODE_OWNER_NONE;
            hop__waitq_push(&r.q, &nodes[i]);
        }
        pthread_t waker, canceller;
        pthread_create(&waker, NULL, bare_waker, &r);
        pthread_create(&canceller, NULL, bare_canceller, &r);
        test_store_uint(&r.go, 1);
        pthread_join(waker, NULL);
        pthread_join(canceller, NULL);
        for (int i = 0; i < NODES; i++) {
            cr_assert(owner[i] == NODE_OWNER_WAKER || owner[i] == NODE_OWNER_CANCELLER,
                      "round %u: node %d was %s", round, i,
                      owner[i] == NODE_OWNER_NONE ? "lost by both" : "claimed by both");
            if (owner[i] == NODE_OWNER_WAKER)
                woken++;
            else
                withdrawn++;
        }
        cr_assert(hop__waitq_empty(&r.q), "round %u: nodes left in the queue", round);
    }
    cr_log_info("%s vs cancel: %u woken, %u withdrawn", take_all ? "take_all" : "pop", woken, withdrawn);
}

Test(waitq, each_node_goes_to_exactly_one_of_a_popping_waker_and_a_racing_canceller, .timeout = 240) {
    bare_race(false);
}

Test(waitq, each_node_goes_to_exactly_one_of_a_take_all_waker_and_a_racing_canceller, .timeout = 240) {
    bare_race(true);
}

/* ---- tasks queued several deep: pops racing cancels from the middle ---- */

/* A token gate built only on waitq.h: a release hands its token to the
 * longest waiter, or banks it when nobody waits. */
typedef struct {
    hop__spinlock_t lock;
    hop__waitq_t waiters;
    unsigned int tokens;  /* guarded by lock */
    unsigned int arrived; /* tasks that found no token and queued (atomic) */
} gate_t;

typedef struct {
    hop__waiter_t waiter;
    gate_t *gate;
} gate_waiter_t;

static bool gate_take_locked(hop__waiter_t *w) {
    gate_t *g = ((gate_waiter_t *)w)->gate;
    if (g->tokens == 0) {
        test_add_uint(&g->arrived, 1); /* queued before the unlock, so before the next task's turn */
        return false;
    }
    g->tokens--;
    return true;
}

static const hop_awaitable_ops_t gate_ops = {.suspend = hop__waiter_suspend, .cancel = hop__waiter_cancel};

static void gate_release(gate_t *g) {
    hop__spinlock_lock(&g->lock);
    hop__waiter_t *w = hop__waiter_of(hop__waitq_pop(&g->waiters));
    if (!w)
        g->tokens++;
    hop__spinlock_unlock(&g->lock);
    if (w)
        hop_awaitable_complete(&w->base, 0);
}

typedef struct {
    gate_t *gate;
    int rc;
    unsigned int resumed;
} taker_t;

static void *take_task(void *arg) {
    taker_t *t = arg;
    gate_waiter_t w = {.gate = t->gate};
    hop__waiter_init(&w.waiter, &gate_ops, &t->gate->lock, &t->gate->waiters, gate_take_locked);
    t->rc = hop_await(&w.waiter.base);
    test_add_uint(&t->resumed, 1);
    return NULL;
}

enum { DEEP = 4, RELEASES = 2 };

typedef struct {
    gate_t *gate;
    hop_task_t **tasks;
    unsigned int go;
    unsigned int seed;
} deep_race_t;

static void *deep_releaser(void *arg) {
    deep_race_t *r = arg;
    while (!test_load_uint(&r->go))
        sched_yield();
    for (int i = 0; i < RELEASES; i++)
        gate_release(r->gate);
    return NULL;
}

static void *deep_canceller(void *arg) {
    deep_race_t *r = arg;
    unsigned int seed = r->seed;
    while (!test_load_uint(&r->go))
        sched_yield();
    for (volatile unsigned int i = (unsigned int)rand_r(&seed) % 500; i > 0; i--)
        ;
    /* Every waiter but the head, from a random one onwards. */
    unsigned int first = (unsigned int)rand_r(&seed) % (DEEP - 1);
    for (unsigned int k = 0; k < DEEP - 1; k++)
        hop_task_cancel(r->tasks[1 + (first + k) % (DEEP - 1)]);
    return NULL;
}

Test(waitq, tasks_woken_or_cancelled_several_deep_resume_once_and_every_token_is_kept, .timeout = 240) {
    enum { ROUNDS = 1000 };
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    gate_t gate = {.waiters = HOP__WAITQ_INIT};
    unsigned int handed = 0, cancelled = 0;
    for (unsigned int round = 0; round < ROUNDS; round++) {
        taker_t takers[DEEP];
        hop_task_t *tasks[DEEP];
        for (int i = 0; i < DEEP; i++) {
            takers[i] = (taker_t){.gate = &gate, .rc = 1};
            tasks[i] = test_spawn(hop_pool_executor(&pool), take_task, &takers[i]);
            /* One at a time, so the queue holds them in this order. */
            while (test_load_uint(&gate.arrived) != round * DEEP + (unsigned int)i + 1)
                sched_yield();
        }
        deep_race_t r = {.gate = &gate, .tasks = tasks, .seed = round};
        pthread_t releaser, canceller;
        pthread_create(&releaser, NULL, deep_releaser, &r);
        pthread_create(&canceller, NULL, deep_canceller, &r);
        test_store_uint(&r.go, 1);
        pthread_join(releaser, NULL);
        pthread_join(canceller, NULL);
        /* The head was never cancelled: the first release is its. Whatever
         * of the rest is still waiting is cancelled by now, or will be. */
        for (int i = 0; i < DEEP; i++)
            test_join(tasks[i]);
        unsigned int got = 0;
        for (int i = 0; i < DEEP; i++) {
            cr_assert_eq(test_load_uint(&takers[i].resumed), 1, "round %u: task %d resumed %u times", round,
                         i, takers[i].resumed);
            cr_assert(takers[i].rc == 0 || takers[i].rc == HOP_ECANCELED, "round %u: task %d got %s", round,
                      i, hop_err_name(takers[i].rc));
            got += takers[i].rc == 0;
        }
        cr_assert_eq(takers[0].rc, 0, "round %u: the head waiter did not get the first token", round);
        hop__spinlock_lock(&gate.lock);
        unsigned int banked = gate.tokens;
        gate.tokens = 0;
        bool empty = hop__waitq_empty(&gate.waiters);
        hop__spinlock_unlock(&gate.lock);
        cr_assert(empty, "round %u: a waiter record was left in the queue", round);
        cr_assert_eq(got + banked, RELEASES, "round %u: %u tokens taken and %u banked of %d released", round,
                     got, banked, RELEASES);
        handed += got - 1;
        cancelled += DEEP - got;
    }
    HOP_OK(hop_pool_close(&pool));
    cr_log_info("second token: handed to a waiter %u times; %u waiters withdrawn", handed, cancelled);
}

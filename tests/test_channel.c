/* tests/test_channel.c: bounded MPMC channels (src/sync/channel.c).
 *
 * Order, back-pressure, close and errors on a manual executor run by the
 * test thread; items crossing between a loop task, pool tasks and plain
 * threads, each received exactly once; and send racing cancel, which must
 * neither lose nor duplicate an item. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hop/channel.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(channel, .init = setup, .fini = teardown, .timeout = 60);


#define ITEM(i) ((void *)(uintptr_t)(i))

/* ---- one sender / one receiver task ---- */

typedef struct {
    hop_channel_t *channel;
    void *item;
    int rc;
    unsigned int returned;
} op_t;

static void *send_task(void *arg) {
    op_t *o = arg;
    o->rc = hop_channel_send(o->channel, o->item);
    test_add_uint(&o->returned, 1);
    return NULL;
}

static void *receive_task(void *arg) {
    op_t *o = arg;
    o->rc = hop_channel_receive(o->channel, &o->item);
    test_add_uint(&o->returned, 1);
    return NULL;
}

static void op_init(op_t *o, hop_channel_t *c, void *item) {
    *o = (op_t){.channel = c, .item = item, .rc = 1};
}

Test(channel, items_come_out_in_the_order_they_went_in) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 4, NULL));
    for (int i = 0; i < 4; i++)
        HOP_OK(hop_channel_try_send(&c, ITEM(i + 1)));
    cr_assert_eq(hop_channel_size(&c), 4);
    for (int round = 0; round < 3; round++) { /* wrap around the ring */
        void *item;
        HOP_OK(hop_channel_try_receive(&c, &item));
        cr_assert_eq(item, ITEM(round * 4 + 1));
        for (int i = 1; i < 4; i++) {
            HOP_OK(hop_channel_try_receive(&c, &item));
            cr_assert_eq(item, ITEM(round * 4 + i + 1));
        }
        for (int i = 0; i < 4; i++)
            HOP_OK(hop_channel_try_send(&c, ITEM((round + 1) * 4 + i + 1)));
    }
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, null_is_an_item_like_any_other) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    HOP_OK(hop_channel_try_send(&c, NULL));
    void *item = ITEM(1);
    HOP_OK(hop_channel_try_receive(&c, &item));
    cr_assert_null(item);
    HOP_ERR(hop_channel_try_receive(&c, &item), HOP_EAGAIN);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, try_send_returns_eagain_when_full_and_try_receive_when_empty) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 2, NULL));
    void *item;
    HOP_ERR(hop_channel_try_receive(&c, &item), HOP_EAGAIN);
    HOP_OK(hop_channel_try_send(&c, ITEM(1)));
    HOP_OK(hop_channel_try_send(&c, ITEM(2)));
    HOP_ERR(hop_channel_try_send(&c, ITEM(3)), HOP_EAGAIN);
    cr_assert_eq(hop_channel_size(&c), 2);
    cr_assert_eq(hop_channel_capacity(&c), 2);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, send_suspends_while_full_until_a_receive_makes_room) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    HOP_OK(hop_channel_try_send(&c, ITEM(1)));
    op_t s;
    op_init(&s, &c, ITEM(2));
    hop_task_t *t = test_spawn(manual, send_task, &s);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    void *item;
    HOP_OK(hop_channel_try_receive(&c, &item)); /* from a plain thread */
    cr_assert_eq(item, ITEM(1));
    cr_assert_eq(hop_channel_size(&c), 1, "the waiting sender's item moved into the freed slot");
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(s.rc);
    HOP_OK(hop_channel_try_receive(&c, &item));
    cr_assert_eq(item, ITEM(2));
    hop_task_unref(t);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, receive_suspends_while_empty_until_a_plain_thread_sends) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 4, NULL));
    op_t r;
    op_init(&r, &c, NULL);
    hop_task_t *t = test_spawn(manual, receive_task, &r);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_OK(hop_channel_try_send(&c, ITEM(42)));
    cr_assert_eq(hop_channel_size(&c), 0, "handed straight to the waiting receiver");
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(r.rc);
    cr_assert_eq(r.item, ITEM(42));
    hop_task_unref(t);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, waiting_receivers_are_served_in_the_order_they_arrived) {
    enum { N = 8 };
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 2, NULL));
    op_t r[N];
    hop_task_t *t[N];
    for (int i = 0; i < N; i++) {
        op_init(&r[i], &c, NULL);
        t[i] = test_spawn(manual, receive_task, &r[i]);
        hop_manual_executor_run_all(manual, 0);
    }
    for (int i = 0; i < N; i++)
        HOP_OK(hop_channel_try_send(&c, ITEM(100 + i)));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++) {
        HOP_OK(r[i].rc);
        cr_assert_eq(r[i].item, ITEM(100 + i), "receiver %d got item %p", i, r[i].item);
        hop_task_unref(t[i]);
    }
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, waiting_senders_are_served_in_the_order_they_arrived) {
    enum { N = 8 };
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    HOP_OK(hop_channel_try_send(&c, ITEM(99)));
    op_t s[N];
    hop_task_t *t[N];
    for (int i = 0; i < N; i++) {
        op_init(&s[i], &c, ITEM(100 + i));
        t[i] = test_spawn(manual, send_task, &s[i]);
        hop_manual_executor_run_all(manual, 0);
    }
    void *item;
    HOP_OK(hop_channel_try_receive(&c, &item));
    cr_assert_eq(item, ITEM(99));
    for (int i = 0; i < N; i++) {
        HOP_OK(hop_channel_try_receive(&c, &item));
        cr_assert_eq(item, ITEM(100 + i));
    }
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++) {
        HOP_OK(s[i].rc);
        hop_task_unref(t[i]);
    }
    HOP_OK(hop_channel_destroy(&c));
}

/* ---- close ---- */

Test(channel, after_close_send_returns_eclosed_and_receive_drains_then_returns_eclosed) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 4, NULL));
    HOP_OK(hop_channel_try_send(&c, ITEM(1)));
    HOP_OK(hop_channel_try_send(&c, ITEM(2)));
    HOP_OK(hop_channel_close(&c));
    cr_assert(hop_channel_is_closed(&c));
    HOP_ERR(hop_channel_try_send(&c, ITEM(3)), HOP_ECLOSED);
    op_t s, r[3];
    op_init(&s, &c, ITEM(4));
    hop_task_t *ts = test_spawn(manual, send_task, &s);
    hop_task_t *tr[3];
    for (int i = 0; i < 3; i++) {
        op_init(&r[i], &c, NULL);
        tr[i] = test_spawn(manual, receive_task, &r[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(s.rc, HOP_ECLOSED);
    HOP_OK(r[0].rc);
    cr_assert_eq(r[0].item, ITEM(1));
    HOP_OK(r[1].rc);
    cr_assert_eq(r[1].item, ITEM(2));
    HOP_ERR(r[2].rc, HOP_ECLOSED);
    cr_assert_null(r[2].item, "untouched");
    void *item;
    HOP_ERR(hop_channel_try_receive(&c, &item), HOP_ECLOSED);
    hop_task_unref(ts);
    for (int i = 0; i < 3; i++)
        hop_task_unref(tr[i]);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, close_wakes_waiting_senders_with_eclosed_and_their_items_are_not_sent) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    HOP_OK(hop_channel_try_send(&c, ITEM(1)));
    op_t s[2];
    hop_task_t *t[2];
    for (int i = 0; i < 2; i++) {
        op_init(&s[i], &c, ITEM(10 + i));
        t[i] = test_spawn(manual, send_task, &s[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_channel_close(&c));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < 2; i++) {
        HOP_ERR(s[i].rc, HOP_ECLOSED);
        hop_task_unref(t[i]);
    }
    void *item;
    HOP_OK(hop_channel_try_receive(&c, &item));
    cr_assert_eq(item, ITEM(1), "only the buffered item is delivered");
    HOP_ERR(hop_channel_try_receive(&c, &item), HOP_ECLOSED);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, close_wakes_waiting_receivers_with_eclosed) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 2, NULL));
    op_t r[2];
    hop_task_t *t[2];
    for (int i = 0; i < 2; i++) {
        op_init(&r[i], &c, NULL);
        t[i] = test_spawn(manual, receive_task, &r[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_channel_close(&c));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < 2; i++) {
        HOP_ERR(r[i].rc, HOP_ECLOSED);
        hop_task_unref(t[i]);
    }
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, closing_a_closed_channel_returns_ealready) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    HOP_OK(hop_channel_close(&c));
    HOP_ERR(hop_channel_close(&c), HOP_EALREADY);
    cr_assert(hop_channel_is_closed(&c));
    HOP_OK(hop_channel_destroy(&c));
}

typedef struct {
    hop_channel_t *channel;
    long sum;
    int count;
} consumer_t;

static void *consume_with_foreach(void *arg) {
    consumer_t *k = arg;
    HOP_CHANNEL_FOREACH(k->channel, item) {
        k->sum += (long)(uintptr_t)item;
        k->count++;
    }
    return NULL;
}

Test(channel, the_foreach_macro_receives_until_the_channel_is_closed_and_drained) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 3, NULL));
    consumer_t k = {.channel = &c};
    hop_task_t *t = test_spawn(manual, consume_with_foreach, &k);
    for (int i = 1; i <= 10; i++) {
        HOP_OK(hop_channel_try_send(&c, ITEM(i)));
        if (i % 3 == 0)
            hop_manual_executor_run_all(manual, 0);
    }
    HOP_OK(hop_channel_close(&c));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(k.count, 10);
    cr_assert_eq(k.sum, 55);
    hop_task_unref(t);
    HOP_OK(hop_channel_destroy(&c));
}

/* ---- capacity 0 ---- */

Test(channel, a_rendezvous_channel_completes_a_send_only_when_a_receiver_takes_the_item) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 0, NULL));
    HOP_ERR(hop_channel_try_send(&c, ITEM(1)), HOP_EAGAIN);
    op_t s;
    op_init(&s, &c, ITEM(5));
    hop_task_t *ts = test_spawn(manual, send_task, &s);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(ts), HOP_TASK_SUSPENDED, "no receiver yet");
    cr_assert_eq(hop_channel_size(&c), 0);
    void *item;
    HOP_OK(hop_channel_try_receive(&c, &item));
    cr_assert_eq(item, ITEM(5));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(s.rc);

    op_t r;
    op_init(&r, &c, NULL);
    hop_task_t *tr = test_spawn(manual, receive_task, &r);
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(hop_channel_try_send(&c, ITEM(6)), 0, "a receiver waits: try_send succeeds");
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(r.rc);
    cr_assert_eq(r.item, ITEM(6));
    hop_task_unref(ts);
    hop_task_unref(tr);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, a_rendezvous_channel_between_two_tasks_passes_every_item) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 0, NULL));
    consumer_t k = {.channel = &c};
    hop_task_t *tk = test_spawn(manual, consume_with_foreach, &k);
    op_t s[20];
    hop_task_t *ts[20];
    for (int i = 0; i < 20; i++) {
        op_init(&s[i], &c, ITEM(i + 1));
        ts[i] = test_spawn(manual, send_task, &s[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_channel_close(&c));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(k.count, 20);
    cr_assert_eq(k.sum, 210);
    for (int i = 0; i < 20; i++) {
        HOP_OK(s[i].rc);
        hop_task_unref(ts[i]);
    }
    hop_task_unref(tk);
    HOP_OK(hop_channel_destroy(&c));
}

/* ---- buffers and errors ---- */

Test(channel, a_caller_provided_buffer_is_used_and_not_freed) {
    void *slots[3];
    memset(slots, 0, sizeof slots);
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 3, slots));
    HOP_OK(hop_channel_try_send(&c, ITEM(7)));
    cr_assert_eq(slots[0], ITEM(7), "the item sits in the caller's array");
    HOP_OK(hop_channel_destroy(&c)); /* ASan would catch a free of this stack array */
}

Test(channel, bad_arguments_return_einval) {
    hop_channel_t c;
    void *item;
    HOP_ERR(hop_channel_init(NULL, 1, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_init(&c, (size_t)-1, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_init(&c, (size_t)(int)-5, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_init(&c, HOP_CHANNEL_CAPACITY_MAX + 1, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_send(NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_receive(NULL, &item), HOP_EINVAL);
    HOP_ERR(hop_channel_try_send(NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_try_receive(NULL, &item), HOP_EINVAL);
    HOP_ERR(hop_channel_close(NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_destroy(NULL), HOP_EINVAL);
    cr_assert_not(hop_channel_is_closed(NULL));
    cr_assert_eq(hop_channel_size(NULL), 0);
    cr_assert_eq(hop_channel_capacity(NULL), 0);
    HOP_OK(hop_channel_init(&c, 1, NULL));
    HOP_ERR(hop_channel_receive(&c, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_try_receive(&c, NULL), HOP_EINVAL);
    HOP_OK(hop_channel_destroy(&c));
    HOP_ERR(hop_channel_try_send(&c, NULL), HOP_EINVAL);
    HOP_ERR(hop_channel_close(&c), HOP_EINVAL);
    HOP_ERR(hop_channel_destroy(&c), HOP_EINVAL);
    hop_channel_t zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    HOP_ERR(hop_channel_try_send(&zeroed, NULL), HOP_EINVAL);
}

Test(channel, send_and_receive_outside_a_task_return_enottask) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    void *item;
    HOP_ERR(hop_channel_send(&c, ITEM(1)), HOP_ENOTTASK);
    HOP_ERR(hop_channel_receive(&c, &item), HOP_ENOTTASK);
    cr_assert_eq(hop_channel_size(&c), 0, "nothing was sent");
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, destroy_returns_ebusy_while_tasks_wait) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    op_t r;
    op_init(&r, &c, NULL);
    hop_task_t *t = test_spawn(manual, receive_task, &r);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(hop_channel_destroy(&c), HOP_EBUSY);
    HOP_OK(hop_channel_close(&c));
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(r.rc, HOP_ECLOSED);
    HOP_OK(hop_channel_destroy(&c));
    hop_task_unref(t);
}

/* ---- across threads ---- */

enum { XITEMS = 20000 };

typedef struct {
    hop_channel_t *channel;
    int first, count; /* sends first .. first + count - 1 */
    unsigned int errors;
} producer_t;

static void *produce(void *arg) {
    producer_t *p = arg;
    for (int i = p->first; i < p->first + p->count; i++)
        if (hop_channel_send(p->channel, ITEM(i + 1)) != 0)
            p->errors++;
    return NULL;
}

typedef struct {
    hop_channel_t *channel;
    unsigned char *seen; /* shared; each slot written once by whoever received it */
    unsigned int *received;
    unsigned int duplicates;
} receiver_t;

static void *receive_all(void *arg) {
    receiver_t *r = arg;
    HOP_CHANNEL_FOREACH(r->channel, item) {
        uintptr_t i = (uintptr_t)item - 1;
        if (__atomic_exchange_n(&r->seen[i], 1, __ATOMIC_ACQ_REL))
            r->duplicates++;
        test_add_uint(r->received, 1);
    }
    return NULL;
}

static void *produce_then_close_when_others_are_done(void *arg);

typedef struct {
    producer_t producer;
    unsigned int *producers_left;
} closing_producer_t;

static void *produce_then_close_when_others_are_done(void *arg) {
    closing_producer_t *p = arg;
    produce(&p->producer);
    if (__atomic_sub_fetch(p->producers_left, 1, __ATOMIC_ACQ_REL) == 0)
        hop_channel_close(p->producer.channel);
    return NULL;
}

static void run_cross(hop_executor_t *producers_on[], int producers, hop_executor_t *receivers_on[],
                      int receivers, size_t capacity) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, capacity, NULL));
    unsigned char *seen = calloc(XITEMS, 1);
    unsigned int received = 0, left = (unsigned int)producers;
    closing_producer_t p[8];
    receiver_t r[8];
    hop_task_t *tp[8], *tr[8];
    for (int i = 0; i < receivers; i++) {
        r[i] = (receiver_t){.channel = &c, .seen = seen, .received = &received};
        tr[i] = test_spawn(receivers_on[i], receive_all, &r[i]);
    }
    int per = XITEMS / producers;
    for (int i = 0; i < producers; i++) {
        p[i] = (closing_producer_t){.producer = {.channel = &c, .first = i * per, .count = per},
                                    .producers_left = &left};
        tp[i] = test_spawn(producers_on[i], produce_then_close_when_others_are_done, &p[i]);
    }
    for (int i = 0; i < producers; i++) {
        HOP_OK(test_join(tp[i]));
        cr_assert_eq(p[i].producer.errors, 0);
    }
    for (int i = 0; i < receivers; i++) {
        HOP_OK(test_join(tr[i]));
        cr_assert_eq(r[i].duplicates, 0, "an item was received twice");
    }
    cr_assert_eq(received, (unsigned int)(per * producers));
    for (int i = 0; i < per * producers; i++)
        cr_assert(seen[i], "item %d was lost", i);
    free(seen);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, a_loop_task_feeds_three_pool_tasks_and_every_item_arrives_once, .timeout = 120) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_executor_t *producers[] = {hop_loop_executor(&loop)};
    hop_executor_t *receivers[] = {hop_pool_executor(&pool), hop_pool_executor(&pool),
                                   hop_pool_executor(&pool)};
    run_cross(producers, 1, receivers, 3, 8);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
}

Test(channel, four_pool_tasks_feed_a_loop_task_through_a_rendezvous_channel, .timeout = 120) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_executor_t *pe = hop_pool_executor(&pool);
    hop_executor_t *producers[] = {pe, pe, pe, pe};
    hop_executor_t *receivers[] = {hop_loop_executor(&loop)};
    run_cross(producers, 4, receivers, 1, 0);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
}

Test(channel, four_pool_producers_and_four_pool_consumers_lose_and_duplicate_nothing, .timeout = 120) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 4};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_executor_t *pe = hop_pool_executor(&pool);
    hop_executor_t *all[] = {pe, pe, pe, pe};
    run_cross(all, 4, all, 4, 16);
    HOP_OK(hop_pool_close(&pool));
}

typedef struct {
    hop_channel_t *channel;
    int count;
} thread_producer_t;

static void *try_send_from_thread(void *arg) {
    thread_producer_t *p = arg;
    for (int i = 0; i < p->count;) {
        int rc = hop_channel_try_send(p->channel, ITEM(i + 1));
        if (rc == 0)
            i++;
        else if (rc == HOP_EAGAIN)
            sched_yield();
        else
            return ITEM(1); /* unexpected error */
    }
    hop_channel_close(p->channel);
    return NULL;
}

Test(channel, a_plain_thread_using_try_send_feeds_a_loop_task, .timeout = 120) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 4, NULL));
    consumer_t k = {.channel = &c};
    hop_task_t *t = test_spawn(hop_loop_executor(&loop), consume_with_foreach, &k);
    thread_producer_t p = {.channel = &c, .count = 5000};
    pthread_t thread;
    pthread_create(&thread, NULL, try_send_from_thread, &p);
    void *failed;
    pthread_join(thread, &failed);
    cr_assert_null(failed);
    HOP_OK(test_join(t));
    cr_assert_eq(k.count, 5000);
    cr_assert_eq(k.sum, 5000L * 5001 / 2);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_channel_destroy(&c));
}

/* ---- interrupts ---- */

static void *cancel_thread(void *arg) {
    hop_task_cancel(arg);
    return NULL;
}

static void cancel_on_plain_thread(hop_task_t *task) {
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_thread, task);
    pthread_join(thread, NULL);
}

Test(channel,
     a_receiver_cancelled_from_a_plain_thread_gets_ecanceled_and_the_next_item_goes_to_the_next_receiver) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 2, NULL));
    op_t r[2];
    hop_task_t *t[2];
    for (int i = 0; i < 2; i++) {
        op_init(&r[i], &c, NULL);
        t[i] = test_spawn(manual, receive_task, &r[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    cancel_on_plain_thread(t[0]);
    test_run_until_finished(manual, t[0]);
    HOP_ERR(r[0].rc, HOP_ECANCELED);
    cr_assert_null(r[0].item);
    HOP_OK(hop_channel_try_send(&c, ITEM(1)));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(r[1].rc);
    cr_assert_eq(r[1].item, ITEM(1), "the item went to the receiver still waiting");
    for (int i = 0; i < 2; i++)
        hop_task_unref(t[i]);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, a_sender_cancelled_while_the_channel_is_full_gets_ecanceled_and_its_item_is_not_sent) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    HOP_OK(hop_channel_try_send(&c, ITEM(1)));
    op_t s;
    op_init(&s, &c, ITEM(2));
    hop_task_t *t = test_spawn(manual, send_task, &s);
    hop_manual_executor_run_all(manual, 0);
    cancel_on_plain_thread(t);
    test_run_until_finished(manual, t);
    HOP_ERR(s.rc, HOP_ECANCELED);
    void *item;
    HOP_OK(hop_channel_try_receive(&c, &item));
    cr_assert_eq(item, ITEM(1));
    HOP_ERR(hop_channel_try_receive(&c, &item), HOP_EAGAIN);
    hop_task_unref(t);
    HOP_OK(hop_channel_destroy(&c));
}

Test(channel, a_receiver_cancelled_after_an_item_was_handed_to_it_still_gets_the_item) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    op_t r;
    op_init(&r, &c, NULL);
    hop_task_t *t = test_spawn(manual, receive_task, &r);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_channel_try_send(&c, ITEM(9)));
    cancel_on_plain_thread(t);
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(r.rc, 0, "the hand-off wins: the item is not lost");
    cr_assert_eq(r.item, ITEM(9));
    hop_task_unref(t);
    HOP_OK(hop_channel_destroy(&c));
}

static void *receive_under_deadline(void *arg) {
    op_t *o = arg;
    hop_deadline_t deadline;
    if (hop_deadline_enter(&deadline, 30) != 0)
        return NULL;
    o->rc = hop_channel_receive(o->channel, &o->item);
    hop_deadline_leave(&deadline);
    return NULL;
}

Test(channel, a_deadline_cuts_a_waiting_receive_short_with_etimedout) {
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, 1, NULL));
    op_t r;
    op_init(&r, &c, NULL);
    hop_task_t *t = test_spawn(manual, receive_under_deadline, &r);
    test_run_until_finished(manual, t);
    HOP_ERR(r.rc, HOP_ETIMEDOUT);
    HOP_OK(hop_channel_try_send(&c, ITEM(3)));
    cr_assert_eq(hop_channel_size(&c), 1, "the item was buffered, not handed to the timed-out receiver");
    hop_task_unref(t);
    HOP_OK(hop_channel_destroy(&c));
}

/* ---- send racing cancel ---- */

typedef struct {
    hop_channel_t *channel;
    hop_task_t *task;
    unsigned int go;
    unsigned int spin;
    bool canceller;
    int rc;
} racer_t;

static void *race_on_go(void *arg) {
    racer_t *r = arg;
    while (!test_load_uint(&r->go))
        ;
    for (volatile unsigned int i = 0; i < r->spin; i++)
        ;
    if (r->canceller)
        r->rc = hop_task_cancel(r->task);
    else
        r->rc = hop_channel_try_send(r->channel, ITEM(1));
    return NULL;
}

static void send_racing_cancel(size_t capacity, int iterations) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_channel_t c;
    HOP_OK(hop_channel_init(&c, capacity, NULL));
    unsigned int seed = 11, delivered = 0, left = 0, refused = 0;
    for (int i = 0; i < iterations; i++) {
        op_t r;
        op_init(&r, &c, NULL);
        hop_task_t *t = test_spawn(hop_pool_executor(&pool), receive_task, &r);
        while (hop_task_state(t) != HOP_TASK_SUSPENDED)
            ;
        racer_t sender = {.channel = &c, .spin = (unsigned int)rand_r(&seed) % 1000};
        racer_t canceller = {.task = t, .spin = (unsigned int)rand_r(&seed) % 1000, .canceller = true};
        pthread_t x, y;
        pthread_create(&x, NULL, race_on_go, &sender);
        pthread_create(&y, NULL, race_on_go, &canceller);
        test_store_uint(&sender.go, 1);
        test_store_uint(&canceller.go, 1);
        pthread_join(x, NULL);
        pthread_join(y, NULL);
        test_join(t);
        cr_assert_eq(r.returned, 1, "iteration %d: the receive returned %u times", i, r.returned);
        void *item = NULL;
        int in_channel = hop_channel_try_receive(&c, &item);
        if (sender.rc == HOP_EAGAIN) {
            /* Rendezvous only: the receiver was withdrawn before the send. */
            refused++;
            EXPECT_RC(r.rc, HOP_ECANCELED, "iteration %d", i);
            EXPECT_RC(in_channel, HOP_EAGAIN, "iteration %d", i);
            continue;
        }
        EXPECT_RC(sender.rc, 0, "iteration %d", i);
        if (r.rc == 0) {
            delivered++;
            cr_assert_eq(r.item, ITEM(1), "iteration %d", i);
            EXPECT_RC(in_channel, HOP_EAGAIN, "iteration %d: the item was delivered twice", i);
        } else {
            left++;
            EXPECT_RC(r.rc, HOP_ECANCELED, "iteration %d", i);
            EXPECT_RC(in_channel, 0, "iteration %d: the item was lost", i);
            cr_assert_eq(item, ITEM(1));
        }
    }
    EXPECT_RC(hop_channel_destroy(&c), 0, "no waiter record left behind");
    HOP_OK(hop_pool_close(&pool));
    cr_log_info("send vs cancel (capacity %zu): %u delivered, %u left buffered, %u refused", capacity,
                delivered, left, refused);
}

Test(channel, send_racing_a_receivers_cancel_neither_loses_nor_duplicates_the_item, .timeout = 240) {
    send_racing_cancel(1, 3000);
}

Test(channel, on_a_rendezvous_channel_send_racing_cancel_neither_loses_nor_duplicates_the_item,
     .timeout = 240) {
    send_racing_cancel(0, 3000);
}

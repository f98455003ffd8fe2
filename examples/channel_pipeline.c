/* examples/channel_pipeline.c: a loop task feeds numbers through a bounded
 * channel to worker tasks on a pool, which send squares back through a
 * second channel to a loop task that sums them. Back-pressure is the
 * channels' capacity: a full channel suspends its sender (a task, never a
 * thread). Closing a channel ends the loops that drain it; a shared table,
 * set up once by whichever worker gets there first, is guarded by a mutex.
 * Exits 0 if the sum is right. */
#include <hop/channel.h>
#include <hop/hop.h>
#include <hop/mutex.h>
#include <hop/once.h>
#include <stdint.h>
#include <stdio.h>

#define COUNT 1000
#define WORKERS 4

static hop_channel_t numbers, squares;
static hop_once_t table_once = HOP_ONCE_INIT;
static hop_mutex_t table_lock = HOP_MUTEX_INIT;
static long done_per_worker[WORKERS]; /* guarded by table_lock */
static unsigned int workers_left = WORKERS;

/* Runs in the first worker that needs the table; the others wait for it. */
static int make_table(void *arg, void **value) {
    (void)arg;
    *value = done_per_worker;
    return 0;
}

static void *produce(void *arg) {
    (void)arg;
    for (intptr_t i = 1; i <= COUNT; i++)
        if (hop_channel_send(&numbers, (void *)i) != 0) /* suspends while full */
            break;
    hop_channel_close(&numbers); /* the workers drain it, then stop */
    return NULL;
}

static void *work(void *arg) {
    intptr_t id = (intptr_t)arg;
    void *table;
    if (hop_once_call(&table_once, make_table, NULL, &table) != 0)
        return NULL;
    HOP_CHANNEL_FOREACH(&numbers, item) {
        intptr_t n = (intptr_t)item;
        if (hop_channel_send(&squares, (void *)(n * n)) != 0)
            break;
        if (hop_mutex_lock(&table_lock) == 0) {
            ((long *)table)[id]++;
            hop_mutex_unlock(&table_lock);
        }
    }
    /* The last worker out closes the results channel. */
    if (__atomic_sub_fetch(&workers_left, 1, __ATOMIC_ACQ_REL) == 0)
        hop_channel_close(&squares);
    return NULL;
}

static void *sum(void *arg) {
    long *total = arg;
    HOP_CHANNEL_FOREACH(&squares, item) *total += (long)(intptr_t)item;
    return NULL;
}

int main(void) {
    hop_loop_t loop;
    hop_pool_t pool;
    hop_task_t *summer, *workers[WORKERS];
    long total = 0;

    hop_channel_init(&numbers, 16, NULL); /* the channel allocates its buffer */
    hop_channel_init(&squares, 16, NULL);
    hop_loop_init(&loop, NULL);
    hop_loop_start(&loop);
    hop_pool_init(&pool, NULL);

    hop_task_spawn(hop_loop_executor(&loop), produce, NULL, NULL, NULL);
    hop_task_spawn(hop_loop_executor(&loop), sum, &total, NULL, &summer);
    for (intptr_t i = 0; i < WORKERS; i++)
        hop_task_spawn(hop_pool_executor(&pool), work, (void *)i, NULL, &workers[i]);

    hop_future_wait(hop_task_future(summer), HOP_WAIT_FOREVER, NULL);
    for (int i = 0; i < WORKERS; i++) {
        hop_future_wait(hop_task_future(workers[i]), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(workers[i]);
    }
    hop_task_unref(summer);
    hop_pool_close(&pool);
    hop_loop_close(&loop);

    long expected = (long)COUNT * (COUNT + 1) * (2 * COUNT + 1) / 6, handled = 0;
    for (int i = 0; i < WORKERS; i++) {
        printf("worker %d squared %ld numbers\n", i, done_per_worker[i]);
        handled += done_per_worker[i];
    }
    printf("sum of squares 1..%d = %ld (expected %ld)\n", COUNT, total, expected);
    hop_channel_destroy(&numbers);
    hop_channel_destroy(&squares);
    return total == expected && handled == COUNT ? 0 : 1;
}

/* examples/custom_awaitable.c: writing an awaitable of your own.
 *
 * A countdown latch: tasks await it, plain threads count it down, and when
 * it reaches zero every waiting task resumes, each on its own executor. It
 * uses only the public protocol (hop/awaitable.h), exactly as hop's own
 * futures do:
 *   - ready():   the latch is already open, so do not suspend;
 *   - suspend(): runs after the task has left its stack; it queues the
 *                awaitable, or returns false if the latch opened meanwhile;
 *   - whoever opens the latch calls hop_awaitable_complete() once per waiter.
 * The waiter record lives on the awaiting task's stack: nothing is allocated
 * per wait. */
#include <hop/hop.h>
#include <pthread.h>
#include <stdio.h>

typedef struct latch_waiter latch_waiter_t;

typedef struct {
    pthread_mutex_t lock;
    int count;
    latch_waiter_t *waiters; /* guarded by lock */
} latch_t;

struct latch_waiter {
    hop_awaitable_t base; /* first, so the awaitable converts to the waiter */
    latch_t *latch;
    latch_waiter_t *next;
};

static void latch_init(latch_t *latch, int count) {
    pthread_mutex_init(&latch->lock, NULL);
    latch->count = count;
    latch->waiters = NULL;
}

static bool latch_ready(hop_awaitable_t *aw) {
    latch_t *latch = ((latch_waiter_t *)aw)->latch;
    pthread_mutex_lock(&latch->lock);
    bool open = latch->count == 0;
    pthread_mutex_unlock(&latch->lock);
    return open;
}

static bool latch_suspend(hop_awaitable_t *aw) {
    latch_waiter_t *w = (latch_waiter_t *)aw;
    latch_t *latch = w->latch;
    pthread_mutex_lock(&latch->lock);
    if (latch->count == 0) { /* opened since ready(): carry on */
        pthread_mutex_unlock(&latch->lock);
        return false;
    }
    w->next = latch->waiters;
    latch->waiters = w; /* from here, count_down may resume the task */
    pthread_mutex_unlock(&latch->lock);
    return true;
}

static const hop_awaitable_ops_t latch_ops = {.ready = latch_ready, .suspend = latch_suspend};

/* latch_wait: suspends the calling task until the latch opens. */
static int latch_wait(latch_t *latch) {
    latch_waiter_t w = {.latch = latch};
    hop_awaitable_init(&w.base, &latch_ops);
    return hop_await(&w.base);
}

/* latch_count_down: from any thread; the last one wakes every waiter. */
static void latch_count_down(latch_t *latch) {
    pthread_mutex_lock(&latch->lock);
    latch_waiter_t *wake = NULL;
    if (latch->count > 0 && --latch->count == 0) {
        wake = latch->waiters;
        latch->waiters = NULL;
    }
    pthread_mutex_unlock(&latch->lock);
    while (wake) {
        latch_waiter_t *next = wake->next; /* read first: the task may run at once */
        hop_awaitable_complete(&wake->base, 0);
        wake = next;
    }
}

static latch_t latch;

static void *waiter_task(void *arg) {
    printf("task %s waits\n", hop_task_name(hop_task_current()));
    latch_wait(&latch);
    printf("task %s passed the latch\n", hop_task_name(hop_task_current()));
    return arg;
}

static void *worker(void *arg) {
    (void)arg;
    latch_count_down(&latch);
    return NULL;
}

int main(void) {
    hop_executor_t *executor;
    hop_manual_executor_create(&executor);
    latch_init(&latch, 3);

    hop_task_t *tasks[2];
    hop_task_options_t options = {.name = "A"};
    hop_task_spawn(executor, waiter_task, NULL, &options, &tasks[0]);
    options.name = "B";
    hop_task_spawn(executor, waiter_task, NULL, &options, &tasks[1]);
    hop_manual_executor_run_all(executor, 0);

    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    hop_manual_executor_run_all(executor, 0);

    int ok = 1;
    for (int i = 0; i < 2; i++) {
        ok &= hop_task_state(tasks[i]) == HOP_TASK_DONE;
        hop_task_unref(tasks[i]);
    }
    hop_manual_executor_destroy(executor);
    printf("%s\n", ok ? "all tasks passed the latch" : "a task is stuck");
    return ok ? 0 : 1;
}

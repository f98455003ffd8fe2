/* bench/peers/naive_pool.c: the baseline anyone can write in an afternoon:
 * a pthread pool with one shared FIFO protected by one mutex; workers wait
 * on one condition variable, signalled once per submitted job. The
 * submitting thread has its own mutex, condition variable and completion
 * list: a worker pushes the finished job there and signals; the submitter
 * takes the whole list at once. The two mutexes are never held together.
 * No spinning anywhere. One submitting thread at a time. */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "../bench_env.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    naive_job_t *head, *tail;
    bool stop;
    unsigned int started;
    pthread_t workers[BENCH_MAX_THREADS];
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    naive_job_t *done;
} naive = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .cond = PTHREAD_COND_INITIALIZER,
           .done_lock = PTHREAD_MUTEX_INITIALIZER,
           .done_cond = PTHREAD_COND_INITIALIZER};

static void *naive_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&naive.lock);
    for (;;) {
        while (!naive.head && !naive.stop)
            pthread_cond_wait(&naive.cond, &naive.lock);
        naive_job_t *job = naive.head;
        if (!job)
            break; /* stopping, and the queue is empty */
        naive.head = job->next;
        if (!naive.head)
            naive.tail = NULL;
        pthread_mutex_unlock(&naive.lock);
        job->result = bench_job_fn(job->arg);
        pthread_mutex_lock(&naive.done_lock);
        job->next = naive.done;
        naive.done = job;
        pthread_cond_signal(&naive.done_cond);
        pthread_mutex_unlock(&naive.done_lock);
        pthread_mutex_lock(&naive.lock);
    }
    pthread_mutex_unlock(&naive.lock);
    return NULL;
}

void naive_pool_submit(naive_job_t *job) {
    job->next = NULL;
    pthread_mutex_lock(&naive.lock);
    if (naive.tail)
        naive.tail->next = job;
    else
        naive.head = job;
    naive.tail = job;
    pthread_cond_signal(&naive.cond);
    pthread_mutex_unlock(&naive.lock);
}

naive_job_t *naive_pool_wait(void) {
    pthread_mutex_lock(&naive.done_lock);
    while (!naive.done)
        pthread_cond_wait(&naive.done_cond, &naive.done_lock);
    naive_job_t *list = naive.done;
    naive.done = NULL;
    pthread_mutex_unlock(&naive.done_lock);
    return list;
}

void naive_pool_start(unsigned int threads) {
    naive.stop = false;
    for (unsigned int i = 0; i < threads; i++) {
        int err = pthread_create(&naive.workers[i], NULL, naive_worker, NULL);
        if (err)
            bench_die("pthread_create: %s", strerror(err));
        naive.started++;
    }
}

void naive_pool_stop(void) {
    pthread_mutex_lock(&naive.lock);
    naive.stop = true;
    pthread_cond_broadcast(&naive.cond);
    pthread_mutex_unlock(&naive.lock);
    for (unsigned int i = 0; i < naive.started; i++)
        pthread_join(naive.workers[i], NULL);
    naive.started = 0;
}

/* src/core/futex.c: see futex.h. */
#define _GNU_SOURCE
#include "core/futex.h"

#include <limits.h>
#include <time.h>

#include "core/atomic.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

void hop__futex_wait(unsigned int *word, unsigned int expected, uint64_t deadline_ns) {
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
     * wait that restarts after a signal does not lengthen it. */
    struct timespec deadline = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, expected, deadline_ns ? &deadline : NULL, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

void hop__futex_wake(unsigned int *word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

void hop__futex_wake_many(unsigned int *word, unsigned int n) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n > INT_MAX ? INT_MAX : (int)n, NULL, NULL, 0);
}

#else
#include <pthread.h>

/* Buckets that live as long as the process: a wake locks one, never the
 * word's own memory. */
#define HOP__FUTEX_BUCKETS 64
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
} hop__futex_buckets[HOP__FUTEX_BUCKETS];
static pthread_once_t hop__futex_once = PTHREAD_ONCE_INIT;

static void hop__futex_init_buckets(void) {
    for (int i = 0; i < HOP__FUTEX_BUCKETS; i++) {
        pthread_mutex_init(&hop__futex_buckets[i].lock, NULL);
        pthread_cond_init(&hop__futex_buckets[i].cond, NULL);
    }
}

/* In a child of fork() a bucket may be locked by a thread that did not
 * follow: every bucket starts afresh (nobody in the child waits yet). */
static void hop__futex_init(void) {
    hop__futex_init_buckets();
    (void)pthread_atfork(NULL, NULL, hop__futex_init_buckets);
}

static unsigned int hop__futex_bucket(const unsigned int *word) {
    uintptr_t a = (uintptr_t)word;
    return (unsigned int)((a >> 2) ^ (a >> 8) ^ (a >> 14)) % HOP__FUTEX_BUCKETS;
}

void hop__futex_wait(unsigned int *word, unsigned int expected, uint64_t deadline_ns) {
    pthread_once(&hop__futex_once, hop__futex_init);
    unsigned int b = hop__futex_bucket(word);
    pthread_mutex_lock(&hop__futex_buckets[b].lock);
    /* Checked under the bucket's lock, which the waker takes after its
     * store: either this sees the new value or the waker's broadcast
     * finds this thread waiting. */
    if (hop__atomic_load_uint(word) == expected) {
        if (deadline_ns == 0) {
            pthread_cond_wait(&hop__futex_buckets[b].cond, &hop__futex_buckets[b].lock);
        } else {
            /* The condition variable's clock is the wall clock (portably):
             * the monotonic deadline becomes an offset from now. */
            struct timespec mono, wall;
            clock_gettime(CLOCK_MONOTONIC, &mono);
            clock_gettime(CLOCK_REALTIME, &wall);
            uint64_t now = (uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec;
            uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
            uint64_t at = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec + left;
            struct timespec until = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
            pthread_cond_timedwait(&hop__futex_buckets[b].cond, &hop__futex_buckets[b].lock, &until);
        }
    }
    pthread_mutex_unlock(&hop__futex_buckets[b].lock);
}

void hop__futex_wake(unsigned int *word) {
    pthread_once(&hop__futex_once, hop__futex_init);
    unsigned int b = hop__futex_bucket(word);
    pthread_mutex_lock(&hop__futex_buckets[b].lock);
    pthread_cond_broadcast(&hop__futex_buckets[b].cond);
    pthread_mutex_unlock(&hop__futex_buckets[b].lock);
}

/* A broadcast wakes the whole bucket: n or more. */
void hop__futex_wake_many(unsigned int *word, unsigned int n) {
    (void)n;
    hop__futex_wake(word);
}
#endif

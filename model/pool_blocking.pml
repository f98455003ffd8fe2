/* model/pool_blocking.pml: model/pool.pml with a job that blocks its worker
 * for ever (a blocking call): no interleaving may leave another job queued
 * while the other worker sleeps. Two outside jobs unless JOBS is set. */
#define BLOCKING 1
#ifndef JOBS
#define JOBS 2
#endif
#include "pool.pml"

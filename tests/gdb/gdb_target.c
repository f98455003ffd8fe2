/* tests/gdb/gdb_target.c: a program for tests/gdb/run.sh. It parks two tasks
 * (one three calls deep in a future await, one on an event), stops in
 * hop_gdb_checkpoint() for the debugger, then finishes them and exits 0. */
#include <stdio.h>

#include <hop/hop.h>

static hop_future_t gate;
static hop_event_t event;

__attribute__((noinline)) void hop_gdb_checkpoint(void) { __asm__ volatile("" ::: "memory"); }

__attribute__((noinline)) static int parked_level_two(void) { return hop_future_await(&gate, NULL); }
__attribute__((noinline)) static int parked_level_one(void) { return parked_level_two() + 0; }
static void *deep_task(void *arg) {
    (void)arg;
    parked_level_one();
    return NULL;
}
static void *event_task(void *arg) {
    (void)arg;
    hop_event_wait(&event);
    return NULL;
}

int main(void) {
    hop_executor_t *manual;
    if (hop_manual_executor_create(&manual) != 0 || hop_future_init(&gate) != 0 || hop_event_init(&event) != 0)
        return 1;
    hop_task_options_t deep = {.name = "deep waiter"}, waiter = {.name = "event waiter"};
    hop_task_t *a, *b;
    if (hop_task_spawn(manual, deep_task, NULL, &deep, &a) != 0 ||
        hop_task_spawn(manual, event_task, NULL, &waiter, &b) != 0)
        return 1;
    hop_manual_executor_run_all(manual, 0);
    hop_gdb_checkpoint();
    hop_future_set_result(&gate, NULL);
    hop_event_set(&event);
    hop_manual_executor_run_all(manual, 0);
    int ok = hop_task_state(a) == HOP_TASK_DONE && hop_task_state(b) == HOP_TASK_DONE;
    hop_task_unref(a);
    hop_task_unref(b);
    hop_manual_executor_destroy(manual);
    puts(ok ? "gdb_target: done" : "gdb_target: tasks did not finish");
    return ok ? 0 : 1;
}

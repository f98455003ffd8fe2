/* tests/install/consumer.c: an outside program built against an installed
 * hop, through pkg-config and through find_package(hop). */
#include <hop/hop.h>
#include <stdio.h>

static void *twice(void *arg) {
    hop_yield();
    return (void *)((long)arg * 2);
}

int main(void) {
    hop_task_t *task;
    void *result = NULL;
    if (hop_task_spawn(hop_inline_executor(), twice, (void *)21, NULL, &task) != 0)
        return 1;
    hop_future_result(hop_task_future(task), &result);
    hop_task_unref(task);
    printf("hop %s: %ld\n", hop_version_string(), (long)result);
    return (long)result == 42 ? 0 : 1;
}

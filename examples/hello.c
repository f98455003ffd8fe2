/* examples/hello.c: a task awaits a future that another thread completes.
 * The task suspends; the thread that runs it does not block. */
#include <hop/hop.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static void *add_one_later(void *arg) {
    void *value;
    int status = hop_future_await(arg, &value); /* suspends this task only */
    if (status != 0)
        return NULL;
    return (void *)((intptr_t)value + 1);
}

static void *answer(void *arg) {
    hop_future_set_result(arg, (void *)41); /* any thread may complete it */
    return NULL;
}

int main(void) {
    hop_executor_t *executor;
    hop_future_t question;
    hop_task_t *task;
    pthread_t thread;
    void *result;

    hop_manual_executor_create(&executor);
    hop_future_init(&question);
    hop_task_spawn(executor, add_one_later, &question, NULL, &task);
    hop_manual_executor_run_all(executor, 0); /* runs the task up to its await */
    printf("task is %s\n", hop_task_state_name(hop_task_state(task)));

    pthread_create(&thread, NULL, answer, &question);
    pthread_join(thread, NULL);
    hop_manual_executor_run_all(executor, 0); /* resumes it: it returns */
    hop_future_result(hop_task_future(task), &result);
    printf("task is %s, result %ld\n", hop_task_state_name(hop_task_state(task)), (long)(intptr_t)result);

    hop_task_unref(task);
    hop_manual_executor_destroy(executor);
    return (intptr_t)result == 42 ? 0 : 1;
}

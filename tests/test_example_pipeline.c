/* tests/test_example_pipeline.c: the pipeline of examples/pipeline.h:
 * order, short-circuiting, where steps run, value ownership, and
 * cancellation in and around offloaded steps. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "../examples/pipeline.h"
#include "helpers.h"

static hop_executor_t *manual;
static hop_pool_t pool;

static void setup(void) {
    HOP_OK(hop_manual_executor_create(&manual));
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
}
static void teardown(void) {
    HOP_OK(hop_pool_close(&pool));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(example_pipeline, .init = setup, .fini = teardown, .timeout = 60);

/* Unowned values: plain numbers. */
static int add(void *in, void **out, void *arg) {
    *out = (void *)((intptr_t)in + (intptr_t)arg);
    return 0;
}
static int times(void *in, void **out, void *arg) {
    *out = (void *)((intptr_t)in * (intptr_t)arg);
    return 0;
}
static int fail_with(void *in, void **out, void *arg) {
    (void)in;
    (void)out;
    return (int)(intptr_t)arg;
}

static atomic_int never_calls;
static int must_not_run(void *in, void **out, void *arg) {
    (void)arg;
    atomic_fetch_add(&never_calls, 1);
    *out = in;
    return 0;
}

typedef struct {
    const pipeline_t *p;
    void *input;
    void *output;
    size_t failed;
    int status;
} run_t;

static void *run_task(void *arg) {
    run_t *r = arg;
    r->failed = (size_t)-1;
    r->status = pipeline_run(r->p, r->input, &r->output, &r->failed);
    return NULL;
}

static void run_on_manual(run_t *r) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, r, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
}

Test(example_pipeline, steps_run_in_order_each_given_the_previous_output) {
    pipeline_t p;
    HOP_OK(pipeline_init(&p, NULL));
    HOP_OK(pipeline_then(&p, "add 1", add, (void *)1));
    HOP_OK(pipeline_then(&p, "times 3", times, (void *)3));
    HOP_OK(pipeline_then(&p, "add -2", add, (void *)-2));
    run_t r = {.p = &p, .input = (void *)5};
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_eq((intptr_t)r.output, 16); /* (5 + 1) * 3 - 2, not 5 * 3 + 1 - 2 */
    pipeline_destroy(&p);
}

Test(example_pipeline, an_empty_pipeline_returns_its_input) {
    pipeline_t p;
    HOP_OK(pipeline_init(&p, NULL));
    void *out = NULL;
    HOP_OK(pipeline_run(&p, (void *)7, &out, NULL));
    cr_assert_eq(out, (void *)7);
    pipeline_destroy(&p);
}

static int await_gate(void *in, void **out, void *arg) {
    void *add_this = NULL;
    int err = hop_future_await(arg, &add_this);
    if (err)
        return err;
    *out = (void *)((intptr_t)in + (intptr_t)add_this);
    return 0;
}

Test(example_pipeline, an_awaiting_step_suspends_the_task_and_the_chain_goes_on_when_it_resumes) {
    hop_future_t gate;
    hop_future_init(&gate);
    pipeline_t p;
    pipeline_init(&p, NULL);
    pipeline_then(&p, "add 1", add, (void *)1);
    pipeline_then(&p, "await", await_gate, &gate);
    pipeline_then(&p, "times 2", times, (void *)2);
    run_t r = {.p = &p, .input = (void *)1, .status = 1};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, &r, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    cr_assert_eq(r.status, 1, "the chain went past an unfinished step");
    HOP_OK(hop_future_set_result(&gate, (void *)10));
    test_run_until_finished(manual, t);
    HOP_OK(r.status);
    cr_assert_eq((intptr_t)r.output, 24);
    hop_task_unref(t);
    pipeline_destroy(&p);
}

Test(example_pipeline, the_first_error_stops_the_chain_and_names_the_failing_step) {
    atomic_store(&never_calls, 0);
    pipeline_t p;
    pipeline_init(&p, NULL);
    pipeline_then(&p, "add", add, (void *)1);
    pipeline_then(&p, "fail", fail_with, (void *)(intptr_t)HOP_EPERM);
    pipeline_then(&p, "after", must_not_run, NULL);
    pipeline_then_offload(&p, "after, offloaded", hop_pool_executor(&pool), must_not_run, NULL);
    run_t r = {.p = &p, .input = (void *)1};
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EPERM);
    cr_assert_eq(r.failed, 1);
    cr_assert_null(r.output);
    cr_assert_eq(atomic_load(&never_calls), 0);
    pipeline_destroy(&p);
}

static hop_loop_t loop;

typedef struct {
    atomic_int on_pool;
    atomic_int on_loop;
} where_t;

static int note_where(void *in, void **out, void *arg) {
    where_t *w = arg;
    if (hop_loop_current() == &loop)
        atomic_fetch_add(&w->on_loop, 1);
    else if (!hop_task_current() && hop_executor_current() == hop_pool_executor(&pool))
        atomic_fetch_add(&w->on_pool, 1);
    *out = (void *)((intptr_t)in + 1);
    return 0;
}

Test(example_pipeline, an_offload_step_runs_on_its_pool_and_the_task_comes_back_to_its_loop) {
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    where_t where;
    atomic_init(&where.on_pool, 0);
    atomic_init(&where.on_loop, 0);
    pipeline_t p;
    pipeline_init(&p, NULL);
    pipeline_then(&p, "here", note_where, &where);
    pipeline_then_offload(&p, "there", hop_pool_executor(&pool), note_where, &where);
    pipeline_then(&p, "here again", note_where, &where);
    run_t r = {.p = &p, .input = (void *)0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), run_task, &r, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(t);
    HOP_OK(r.status);
    cr_assert_eq((intptr_t)r.output, 3);
    cr_assert_eq(atomic_load(&where.on_loop), 2);
    cr_assert_eq(atomic_load(&where.on_pool), 1);
    HOP_OK(hop_loop_close(&loop));
    pipeline_destroy(&p);
}

/* Owned values: boxes that count themselves. */
#define BOX_MAGIC 0xb0c5u
typedef struct {
    unsigned int magic;
    long n;
} box_t;

static atomic_int alive;
static atomic_int bad_frees;

static box_t *box_new(long n) {
    box_t *b = malloc(sizeof *b);
    b->magic = BOX_MAGIC;
    b->n = n;
    atomic_fetch_add(&alive, 1);
    return b;
}

static void box_free(void *value) {
    box_t *b = value;
    if (!b || b->magic != BOX_MAGIC) {
        atomic_fetch_add(&bad_frees, 1);
        return;
    }
    b->magic = 0;
    atomic_fetch_sub(&alive, 1);
    free(b);
}

static int box_inc(void *in, void **out, void *arg) {
    (void)arg;
    *out = box_new(((box_t *)in)->n + 1);
    return 0;
}
static int box_same(void *in, void **out, void *arg) {
    (void)arg;
    ((box_t *)in)->n *= 10;
    *out = in;
    return 0;
}

static void reset_boxes(void) {
    atomic_store(&alive, 0);
    atomic_store(&bad_frees, 0);
}

Test(example_pipeline, every_intermediate_value_is_destroyed_exactly_once_on_success) {
    reset_boxes();
    pipeline_t p;
    pipeline_init(&p, box_free);
    pipeline_then(&p, "inc", box_inc, NULL);
    pipeline_then(&p, "same", box_same, NULL);
    pipeline_then_offload(&p, "inc, offloaded", hop_pool_executor(&pool), box_inc, NULL);
    pipeline_then(&p, "inc", box_inc, NULL);
    run_t r = {.p = &p, .input = box_new(1)};
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_eq(((box_t *)r.output)->n, 22);
    cr_assert_eq(atomic_load(&alive), 1, "only the output is left");
    box_free(r.output);
    cr_assert_eq(atomic_load(&bad_frees), 0);
    pipeline_destroy(&p);
}

Test(example_pipeline, on_an_error_nothing_is_left_over) {
    reset_boxes();
    pipeline_t p;
    pipeline_init(&p, box_free);
    pipeline_then(&p, "inc", box_inc, NULL);
    pipeline_then_offload(&p, "fail, offloaded", hop_pool_executor(&pool), fail_with,
                          (void *)(intptr_t)HOP_EBUSY);
    run_t r = {.p = &p, .input = box_new(1)};
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EBUSY);
    cr_assert_eq(r.failed, 1);
    cr_assert_eq(atomic_load(&alive), 0);
    cr_assert_eq(atomic_load(&bad_frees), 0);
    pipeline_destroy(&p);
}

/* An offloaded step that blocks until the test lets it go. */
static sem_t release_step;
static atomic_int blocked_started;

static int blocking_inc(void *in, void **out, void *arg) {
    (void)arg;
    atomic_store(&blocked_started, 1);
    sem_wait(&release_step);
    *out = box_new(((box_t *)in)->n + 1);
    return 0;
}

Test(example_pipeline, cancelling_during_an_offload_step_returns_at_once_and_the_job_destroys_its_values) {
    reset_boxes();
    atomic_store(&never_calls, 0);
    atomic_store(&blocked_started, 0);
    sem_init(&release_step, 0, 0);
    pipeline_t p;
    pipeline_init(&p, box_free);
    pipeline_then(&p, "inc", box_inc, NULL);
    pipeline_then_offload(&p, "blocks", hop_pool_executor(&pool), blocking_inc, NULL);
    pipeline_then(&p, "after", must_not_run, NULL);
    run_t r = {.p = &p, .input = box_new(1)};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, &r, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    while (!atomic_load(&blocked_started))
        test_sleep_ms(1);
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t); /* the step is still blocked */
    HOP_ERR(r.status, HOP_ECANCELED);
    cr_assert_eq(r.failed, 1);
    cr_assert_null(r.output);
    cr_assert_eq(atomic_load(&alive), 1, "the step's input is still in use on the pool");
    sem_post(&release_step);
    HOP_OK(hop_pool_close(&pool)); /* the step has finished */
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    cr_assert_eq(atomic_load(&alive), 0, "the job did not destroy its values");
    cr_assert_eq(atomic_load(&bad_frees), 0);
    cr_assert_eq(atomic_load(&never_calls), 0);
    hop_task_unref(t);
    sem_destroy(&release_step);
    pipeline_destroy(&p);
}

static void occupy(hop_job_t *job) {
    (void)job;
    sem_wait(&release_step);
}

Test(example_pipeline, an_offload_step_cancelled_before_its_job_starts_never_calls_its_function) {
    reset_boxes();
    atomic_store(&never_calls, 0);
    sem_init(&release_step, 0, 0);
    hop_pool_t one;
    HOP_OK(hop_pool_init(&one, &(hop_pool_options_t){.threads = 1}));
    hop_job_t blocker;
    hop_job_init(&blocker, occupy);
    HOP_OK(hop_pool_submit(&one, &blocker)); /* the only worker is busy */
    pipeline_t p;
    pipeline_init(&p, box_free);
    pipeline_then_offload(&p, "queued", hop_pool_executor(&one), must_not_run, NULL);
    run_t r = {.p = &p, .input = box_new(1)};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, &r, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t);
    HOP_ERR(r.status, HOP_ECANCELED);
    sem_post(&release_step);
    HOP_OK(hop_pool_close(&one));
    cr_assert_eq(atomic_load(&never_calls), 0);
    cr_assert_eq(atomic_load(&alive), 0, "the queued job did not destroy the input");
    hop_task_unref(t);
    sem_destroy(&release_step);
    pipeline_destroy(&p);
}

static int sleepy(void *in, void **out, void *arg) {
    int err = hop_sleep((int64_t)(intptr_t)arg);
    if (err)
        return err;
    *out = in;
    return 0;
}

Test(example_pipeline, cancelling_during_an_awaiting_step_stops_the_chain) {
    reset_boxes();
    atomic_store(&never_calls, 0);
    pipeline_t p;
    pipeline_init(&p, box_free);
    pipeline_then(&p, "inc", box_inc, NULL);
    pipeline_then(&p, "sleeps 10 s", sleepy, (void *)10000);
    pipeline_then(&p, "after", must_not_run, NULL);
    run_t r = {.p = &p, .input = box_new(1)};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, &r, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t);
    HOP_ERR(r.status, HOP_ECANCELED);
    cr_assert_eq(r.failed, 1);
    cr_assert_eq(atomic_load(&never_calls), 0);
    cr_assert_eq(atomic_load(&alive), 0);
    hop_task_unref(t);
    pipeline_destroy(&p);
}

Test(example_pipeline, a_step_that_could_not_be_added_makes_the_pipeline_refuse_to_run) {
    pipeline_t p;
    pipeline_init(&p, NULL);
    pipeline_then(&p, "add", add, (void *)1);
    HOP_ERR(pipeline_then(&p, "broken", NULL, NULL), HOP_EINVAL);
    pipeline_then(&p, "add", add, (void *)1);
    void *out = (void *)1;
    HOP_ERR(pipeline_run(&p, NULL, &out, NULL), HOP_EINVAL);
    cr_assert_null(out);
    pipeline_destroy(&p);
    pipeline_init(&p, NULL);
    HOP_ERR(pipeline_then_offload(&p, "nowhere", NULL, add, NULL), HOP_EINVAL);
    pipeline_destroy(&p);
    HOP_ERR(pipeline_init(NULL, NULL), HOP_EINVAL);
    HOP_ERR(pipeline_run(NULL, NULL, &out, NULL), HOP_EINVAL);
    pipeline_init(&p, NULL);
    pipeline_then(&p, "add", add, (void *)1);
    HOP_ERR(pipeline_run(&p, NULL, &out, NULL), HOP_ENOTTASK);
    pipeline_destroy(&p);
}

/* One pipeline, many tasks on a pool at once, some cancelled at random
 * moments: every run ends with its right value or HOP_ECANCELED, and no
 * value is leaked or freed twice. */
Test(example_pipeline, many_tasks_running_one_pipeline_with_cancels_leak_nothing, .timeout = 240) {
    reset_boxes();
    hop_pool_t tasks_pool;
    HOP_OK(hop_pool_init(&tasks_pool, &(hop_pool_options_t){.threads = 2}));
    pipeline_t p;
    pipeline_init(&p, box_free);
    pipeline_then(&p, "inc", box_inc, NULL);
    pipeline_then_offload(&p, "inc, offloaded", hop_pool_executor(&pool), box_inc, NULL);
    pipeline_then(&p, "yield", sleepy, (void *)0);
    pipeline_then_offload(&p, "same, offloaded", hop_pool_executor(&pool), box_same, NULL);
    pipeline_then(&p, "inc", box_inc, NULL);
    enum { N = 400 };
    static run_t runs[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        runs[i] = (run_t){.p = &p, .input = box_new(i), .status = 1};
        HOP_OK(hop_task_spawn(hop_pool_executor(&tasks_pool), run_task, &runs[i], NULL, &tasks[i]));
        if (i % 3 == 0)
            hop_task_cancel(tasks[i]);
    }
    int ok = 0, never_ran = 0;
    for (int i = 0; i < N; i++) {
        hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(tasks[i]);
        if (runs[i].status == 0) {
            cr_assert_eq(((box_t *)runs[i].output)->n, (i + 2) * 10 + 1);
            box_free(runs[i].output);
            ok++;
        } else if (runs[i].status == 1) {
            box_free(runs[i].input); /* cancelled before it ran: the input is still ours */
            never_ran++;
        } else {
            HOP_ERR(runs[i].status, HOP_ECANCELED);
        }
    }
    cr_assert_geq(ok, N * 2 / 3);
    HOP_OK(hop_pool_close(&tasks_pool));
    HOP_OK(hop_pool_close(&pool)); /* abandoned offloads have finished */
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    cr_assert_eq(atomic_load(&alive), 0, "%d values leaked", atomic_load(&alive));
    cr_assert_eq(atomic_load(&bad_frees), 0);
    (void)never_ran;
    pipeline_destroy(&p);
}

/* tests/test_io_fs.c: files and directories (hop/fs.h): round trips of each
 * call, errors, calls from a pool task and from another loop, interrupts,
 * and cancels from a plain thread at random moments. Everything happens
 * under a fresh directory made with mkdtemp and removed afterwards. */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_fixture.h"

static char dir[64];

static void setup(void) {
    strcpy(dir, "/tmp/hop_test_fs_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    io_fixture_start();
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void) {
    io_fixture_stop();
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(io_fs, .init = setup, .fini = teardown, .timeout = 120);

/* The path of name under the test's directory, in one of a few rotating buffers. */
static const char *at(const char *name) {
    static __thread char paths[4][256];
    static __thread int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

/* Runs fn(arg) as a task on executor; returns its result (fn returns the
 * number of failed checks, or a hop error). */
/* Writes len bytes of text to a new file name (from a task). */
static void put_file(const char *path, const char *text) {
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f));
    CHECK_OK(hop_file_write(f, text, strlen(text), HOP_FILE_CURRENT, NULL));
    CHECK_OK(hop_file_close(f));
}

/* ---- round trips ------------------------------------------------------------------- */

static void *offsets_task(void *arg) {
    (void)arg;
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, at("data"), O_RDWR | O_CREAT | O_EXCL, 0600, &f));
    size_t written = 0;
    CHECK_OK(hop_file_write(f, "hello", 5, 0, &written));
    CHECK(written == 5);
    CHECK_OK(hop_file_write(f, "world", 5, 100, &written));
    char buf[16] = {0};
    CHECK(hop_file_read(f, buf, 5, 100) == 5);
    CHECK(memcmp(buf, "world", 5) == 0);
    CHECK(hop_file_read(f, buf, 5, 0) == 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(hop_file_read(f, buf, sizeof buf, 100) == 5, "short at the end");
    CHECK(hop_file_read(f, buf, sizeof buf, 105) == 0, "0 at the end");
    CHECK(hop_file_read(f, buf, 5, 50) == 5);
    CHECK(memcmp(buf, "\0\0\0\0\0", 5) == 0, "the hole reads as zeros");
    CHECK_OK(hop_file_close(f));
    return NULL;
}

Test(io_fs, writes_and_reads_at_given_offsets_round_trip) { run_task(LOOP_A, offsets_task, NULL); }

static void *current_position_task(void *arg) {
    (void)arg;
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, at("seq"), O_RDWR | O_CREAT, 0, &f));
    CHECK_OK(hop_file_write(f, "abc", 3, HOP_FILE_CURRENT, NULL));
    CHECK_OK(hop_file_write(f, "def", 3, HOP_FILE_CURRENT, NULL));
    CHECK(lseek(hop_file_fd(f), 0, SEEK_SET) == 0);
    char buf[4] = {0};
    CHECK(hop_file_read(f, buf, 2, HOP_FILE_CURRENT) == 2);
    CHECK(memcmp(buf, "ab", 2) == 0);
    CHECK(hop_file_read(f, buf, 4, HOP_FILE_CURRENT) == 4);
    CHECK(memcmp(buf, "cdef", 4) == 0);
    CHECK(hop_file_read(f, buf, 4, HOP_FILE_CURRENT) == 0);
    CHECK_OK(hop_file_close(f));
    return NULL;
}

Test(io_fs, reads_and_writes_at_the_current_position_advance_it) {
    run_task(POOL, current_position_task, NULL);
}

static void *sync_stat_task(void *arg) {
    (void)arg;
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, at("synced"), O_WRONLY | O_CREAT, 0640, &f));
    char block[3000];
    memset(block, 'x', sizeof block);
    CHECK_OK(hop_file_write(f, block, sizeof block, 0, NULL));
    CHECK_OK(hop_file_sync(f));
    hop_fs_stat_t st;
    CHECK_OK(hop_file_stat(f, &st));
    CHECK(st.type == HOP_FS_FILE && st.size == sizeof block, "type %d size %llu", (int)st.type,
          (unsigned long long)st.size);
    CHECK((st.mode & 0777) == 0640, "mode %o", st.mode & 0777);
    CHECK(st.nlink == 1 && st.mtime_ns > 0);
    CHECK_OK(hop_file_close(f));
    return NULL;
}

Test(io_fs, sync_then_stat_of_an_open_file_reports_what_was_written) { run_task(POOL, sync_stat_task, NULL); }

static void *stat_path_task(void *arg) {
    (void)arg;
    put_file(at("five"), "12345");
    hop_fs_stat_t st;
    CHECK_OK(hop_fs_stat(&loop_a, at("five"), &st));
    CHECK(st.type == HOP_FS_FILE && st.size == 5);
    CHECK_OK(hop_fs_stat(&loop_a, dir, &st));
    CHECK(st.type == HOP_FS_DIR);
    return NULL;
}

Test(io_fs, stat_of_a_path_reports_its_type_and_size) { run_task(LOOP_A, stat_path_task, NULL); }

static void *rename_task(void *arg) {
    (void)arg;
    put_file(at("old"), "moved");
    CHECK_OK(hop_fs_rename(&loop_a, at("old"), at("new")));
    hop_fs_stat_t st;
    CHECK_ERR(hop_fs_stat(&loop_a, at("old"), &st), HOP_ENOENT);
    char *text;
    size_t len;
    CHECK_OK(hop_fs_read_file(&loop_a, at("new"), 100, &text, &len));
    CHECK(len == 5 && test_str_eq(text, "moved"));
    free(text);
    return NULL;
}

Test(io_fs, rename_moves_a_file_to_its_new_name) { run_task(POOL, rename_task, NULL); }

static void *unlink_task(void *arg) {
    (void)arg;
    put_file(at("gone"), "x");
    CHECK_OK(hop_fs_unlink(&loop_a, at("gone")));
    hop_fs_stat_t st;
    CHECK_ERR(hop_fs_stat(&loop_a, at("gone"), &st), HOP_ENOENT);
    CHECK_ERR(hop_fs_unlink(&loop_a, at("gone")), HOP_ENOENT);
    return NULL;
}

Test(io_fs, unlink_removes_a_file) { run_task(LOOP_A, unlink_task, NULL); }

static void *mkdir_rmdir_task(void *arg) {
    (void)arg;
    CHECK_OK(hop_fs_mkdir(&loop_a, at("sub"), 0));
    hop_fs_stat_t st;
    CHECK_OK(hop_fs_stat(&loop_a, at("sub"), &st));
    CHECK(st.type == HOP_FS_DIR);
    CHECK_ERR(hop_fs_mkdir(&loop_a, at("sub"), 0700), HOP_EEXIST);
    CHECK_OK(hop_fs_rmdir(&loop_a, at("sub")));
    CHECK_ERR(hop_fs_stat(&loop_a, at("sub"), &st), HOP_ENOENT);
    CHECK_ERR(hop_fs_rmdir(&loop_a, at("sub")), HOP_ENOENT);
    return NULL;
}

Test(io_fs, mkdir_then_rmdir_round_trip_and_a_second_mkdir_gives_eexist) {
    run_task(POOL, mkdir_rmdir_task, NULL);
}

static void *readdir_task(void *arg) {
    (void)arg;
    CHECK_OK(hop_fs_mkdir(&loop_a, at("list"), 0));
    CHECK_OK(hop_fs_mkdir(&loop_a, at("list/b_dir"), 0));
    put_file(at("list/c_file"), "c");
    put_file(at("list/a_file"), "a");
    hop_fs_dir_t *d;
    CHECK_OK(hop_fs_readdir(&loop_a, at("list"), &d));
    CHECK(d->count == 3, "%zu entries", d->count);
    if (d->count == 3) {
        CHECK(test_str_eq(d->entries[0].name, "a_file") && d->entries[0].type == HOP_FS_FILE);
        CHECK(test_str_eq(d->entries[1].name, "b_dir") && d->entries[1].type == HOP_FS_DIR);
        CHECK(test_str_eq(d->entries[2].name, "c_file") && d->entries[2].type == HOP_FS_FILE);
    }
    hop_fs_dir_free(d);
    CHECK_OK(hop_fs_mkdir(&loop_a, at("empty"), 0));
    CHECK_OK(hop_fs_readdir(&loop_a, at("empty"), &d));
    CHECK(d->count == 0);
    hop_fs_dir_free(d);
    return NULL;
}

Test(io_fs, readdir_lists_the_entries_in_name_order_with_their_types) {
    run_task(LOOP_A, readdir_task, NULL);
}

static void *read_file_task(void *arg) {
    (void)arg;
    /* Longer than one read's first guess, so the helper reads in pieces. */
    static char big[100000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + i % 26);
    put_file(at("big"), big);
    char *text;
    size_t len;
    CHECK_OK(hop_fs_read_file(&loop_a, at("big"), sizeof big - 1, &text, &len));
    CHECK(len == sizeof big - 1 && memcmp(text, big, len) == 0 && text[len] == '\0');
    free(text);
    put_file(at("empty"), "");
    CHECK_OK(hop_fs_read_file(&loop_a, at("empty"), 0, &text, &len));
    CHECK(len == 0 && text && text[0] == '\0');
    free(text);
    return NULL;
}

Test(io_fs, read_file_returns_the_whole_contents_followed_by_a_nul) { run_task(POOL, read_file_task, NULL); }

static void *read_file_too_long_task(void *arg) {
    (void)arg;
    put_file(at("eleven"), "0123456789\n");
    char *text = (char *)1;
    size_t len = 1;
    CHECK_ERR(hop_fs_read_file(&loop_a, at("eleven"), 10, &text, &len), HOP_EMSGSIZE);
    CHECK(text == NULL && len == 0);
    CHECK_OK(hop_fs_read_file(&loop_a, at("eleven"), 11, &text, &len));
    free(text);
    return NULL;
}

Test(io_fs, read_file_refuses_a_file_longer_than_its_maximum_with_emsgsize) {
    run_task(LOOP_A, read_file_too_long_task, NULL);
}

static void *read_file_proc_task(void *arg) {
    (void)arg;
    /* /proc files report size 0: the helper reads to the end regardless. */
    char *text;
    size_t len;
    int err = hop_fs_read_file(&loop_a, "/proc/self/status", 1 << 20, &text, &len);
    if (err == HOP_ENOENT)
        return NULL; /* no /proc here */
    CHECK_OK(err);
    if (err == 0) {
        CHECK(len > 0 && strstr(text, "Name:") != NULL);
        free(text);
    }
    CHECK_ERR(hop_fs_read_file(&loop_a, "/proc/self/status", 10, &text, &len), HOP_EMSGSIZE);
    return NULL;
}

Test(io_fs, read_file_reads_a_file_whose_size_says_zero_to_its_end_and_still_checks_the_maximum) {
    run_task(POOL, read_file_proc_task, NULL);
}

/* ---- errors --------------------------------------------------------------------------- */

static void *missing_task(void *arg) {
    (void)arg;
    hop_file_t *f = (hop_file_t *)1;
    hop_fs_stat_t st;
    hop_fs_dir_t *d = (hop_fs_dir_t *)1;
    char *text;
    size_t len;
    CHECK_ERR(hop_file_open(&loop_a, at("nope"), O_RDONLY, 0, &f), HOP_ENOENT);
    CHECK(f == NULL);
    CHECK_ERR(hop_fs_stat(&loop_a, at("nope"), &st), HOP_ENOENT);
    CHECK_ERR(hop_fs_unlink(&loop_a, at("nope")), HOP_ENOENT);
    CHECK_ERR(hop_fs_rename(&loop_a, at("nope"), at("nope2")), HOP_ENOENT);
    CHECK_ERR(hop_fs_readdir(&loop_a, at("nope"), &d), HOP_ENOENT);
    CHECK(d == NULL);
    CHECK_ERR(hop_fs_read_file(&loop_a, at("nope"), 10, &text, &len), HOP_ENOENT);
    CHECK_ERR(hop_fs_mkdir(&loop_a, at("nope/sub"), 0), HOP_ENOENT);
    return NULL;
}

Test(io_fs, a_missing_file_gives_enoent_from_every_call) { run_task(POOL, missing_task, NULL); }

static void *exclusive_task(void *arg) {
    (void)arg;
    put_file(at("there"), "x");
    hop_file_t *f;
    CHECK_ERR(hop_file_open(&loop_a, at("there"), O_WRONLY | O_CREAT | O_EXCL, 0, &f), HOP_EEXIST);
    return NULL;
}

Test(io_fs, an_exclusive_create_of_an_existing_file_gives_eexist) { run_task(LOOP_A, exclusive_task, NULL); }

static void *access_task(void *arg) {
    (void)arg;
    if (geteuid() == 0)
        return NULL; /* root reads anything */
    put_file(at("secret"), "x");
    CHECK(chmod(at("secret"), 0) == 0);
    hop_file_t *f;
    CHECK_ERR(hop_file_open(&loop_a, at("secret"), O_RDONLY, 0, &f), HOP_EACCES);
    return NULL;
}

Test(io_fs, opening_a_file_without_permission_gives_eacces) { run_task(POOL, access_task, NULL); }

static void *wrong_mode_task(void *arg) {
    (void)arg;
    put_file(at("ro"), "abc");
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, at("ro"), O_RDONLY, 0, &f));
    CHECK_ERR(hop_file_write(f, "x", 1, 0, NULL), HOP_ECLOSED);
    char *text;
    size_t len;
    CHECK_ERR(hop_fs_read_file(&loop_a, dir, 100, &text, &len), HOP_EIO); /* EISDIR */
    CHECK_OK(hop_file_close(f));
    return NULL;
}

Test(io_fs, writing_a_file_opened_read_only_gives_eclosed_and_reading_a_directory_eio) {
    run_task(LOOP_A, wrong_mode_task, NULL);
}

static void *bad_arguments_task(void *arg) {
    (void)arg;
    hop_file_t *f;
    hop_fs_stat_t st;
    char buf[4];
    char *text;
    size_t len;
    CHECK_ERR(hop_file_open(&loop_a, NULL, O_RDONLY, 0, &f), HOP_EINVAL);
    CHECK_ERR(hop_file_open(&loop_a, at("x"), O_RDONLY, 0, NULL), HOP_EINVAL);
    CHECK_ERR(hop_fs_stat(NULL, at("x"), &st), HOP_EINVAL); /* a pool task has no loop of its own */
    CHECK_ERR(hop_fs_stat(&loop_a, at("x"), NULL), HOP_EINVAL);
    CHECK_ERR(hop_fs_rename(&loop_a, at("x"), NULL), HOP_EINVAL);
    CHECK_ERR(hop_fs_read_file(&loop_a, at("x"), 10, NULL, &len), HOP_EINVAL);
    CHECK_ERR((int)hop_file_read(NULL, buf, sizeof buf, 0), HOP_EINVAL);
    CHECK_ERR(hop_file_write(NULL, buf, sizeof buf, 0, NULL), HOP_EINVAL);
    CHECK_ERR(hop_file_close(NULL), HOP_EINVAL);
    put_file(at("y"), "y");
    CHECK_OK(hop_file_open(&loop_a, at("y"), O_RDWR, 0, &f));
    CHECK_ERR((int)hop_file_read(f, buf, sizeof buf, -2), HOP_EINVAL);
    CHECK_ERR((int)hop_file_read(f, NULL, 1, 0), HOP_EINVAL);
    CHECK_ERR(hop_file_write(f, buf, 1, -5, NULL), HOP_EINVAL);
    CHECK(hop_file_read(f, buf, 0, 0) == 0);
    CHECK_OK(hop_file_close(f));
    (void)text;
    return NULL;
}

Test(io_fs, bad_arguments_get_einval) { run_task(POOL, bad_arguments_task, NULL); }

Test(io_fs, calls_outside_a_task_get_enottask) {
    hop_fs_stat_t st;
    HOP_ERR(hop_fs_stat(&loop_a, dir, &st), HOP_ENOTTASK);
    HOP_ERR(hop_fs_mkdir(&loop_a, at("z"), 0), HOP_ENOTTASK);
}

static void *open_on_task(void *arg) {
    hop_loop_t *loop = ((void **)arg)[0];
    return (void *)(intptr_t)hop_file_open(loop, at("orphan"), O_RDWR | O_CREAT, 0, ((void **)arg)[1]);
}

static void *use_after_loop_task(void *arg) {
    hop_file_t *f = arg;
    char buf[4];
    CHECK_ERR((int)hop_file_read(f, buf, sizeof buf, 0), HOP_ECLOSED);
    CHECK_ERR(hop_file_sync(f), HOP_ECLOSED);
    return (void *)(intptr_t)hop_file_close(f);
}

Test(io_fs, a_file_whose_loop_has_closed_gives_eclosed_and_its_close_still_closes_the_descriptor) {
    static hop_loop_t loop_c;
    HOP_OK(hop_loop_init(&loop_c, NULL));
    HOP_OK(hop_loop_start(&loop_c));
    hop_file_t *f = NULL;
    void *args[] = {&loop_c, &f};
    cr_assert_eq(run_task(POOL, open_on_task, args), 0);
    int fd = hop_file_fd(f);
    cr_assert_neq(fcntl(fd, F_GETFD), -1, "open");
    HOP_OK(hop_loop_close(&loop_c));
    cr_assert_eq(run_task(POOL, use_after_loop_task, f), 0);
    cr_assert_eq(fcntl(fd, F_GETFD), -1, "closed");
}

/* ---- where tasks resume ------------------------------------------------------------------ */

typedef struct {
    hop_executor_t *home;
    unsigned int wrong; /* calls after which the task was not on its own executor */
} home_t;

static void note_home(home_t *h) {
    if (hop_executor_current() != h->home)
        h->wrong++;
}

static void *home_task(void *arg) {
    home_t *h = arg;
    h->home = hop_executor_current();
    char name[64];
    snprintf(name, sizeof name, "home_%p", (void *)h);
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, at(name), O_RDWR | O_CREAT, 0, &f));
    note_home(h);
    CHECK_OK(hop_file_write(f, "abc", 3, 0, NULL));
    note_home(h);
    char buf[3];
    CHECK(hop_file_read(f, buf, 3, 0) == 3);
    note_home(h);
    CHECK_OK(hop_file_sync(f));
    note_home(h);
    CHECK_OK(hop_file_close(f));
    note_home(h);
    hop_fs_stat_t st;
    CHECK_OK(hop_fs_stat(&loop_a, at(name), &st));
    note_home(h);
    char *text;
    size_t len;
    CHECK_OK(hop_fs_read_file(&loop_a, at(name), 10, &text, &len));
    free(text);
    note_home(h);
    CHECK_OK(hop_fs_unlink(&loop_a, at(name)));
    note_home(h);
    return NULL;
}

Test(io_fs, a_pool_task_resumes_on_the_pool_after_each_call) {
    home_t h = {0};
    run_task(POOL, home_task, &h);
    cr_assert_eq(h.home, POOL);
    cr_assert_eq(h.wrong, 0u);
}

Test(io_fs, a_task_on_another_loop_resumes_on_that_loop_after_each_call) {
    home_t h = {0};
    run_task(LOOP_B, home_task, &h);
    cr_assert_eq(h.home, LOOP_B);
    cr_assert_eq(h.wrong, 0u);
}

/* ---- interrupts ------------------------------------------------------------------------------ */

static void *cancelled_first_task(void *arg) {
    int *status = arg;
    hop_task_cancel(hop_task_current());
    *status = hop_fs_mkdir(&loop_a, at("never"), 0);
    return NULL;
}

Test(io_fs, a_cancelled_task_gets_ecanceled_and_the_operation_never_happens) {
    int status = 1;
    hop_task_t *t = test_spawn(POOL, cancelled_first_task, &status);
    cr_assert_eq(test_join(t), HOP_ECANCELED);
    cr_assert_eq(status, HOP_ECANCELED);
    struct stat st;
    cr_assert_eq(stat(at("never"), &st), -1, "the directory was not made");
}

static void *deadlines_task(void *arg) {
    (void)arg;
    /* Calls cut short by deadlines at every point: each returns its real
     * result or HOP_ETIMEDOUT, and nothing leaks (ASan). */
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, at("deadlines"), O_RDWR | O_CREAT, 0, &f));
    CHECK_OK(hop_file_write(f, "0123456789", 10, 0, NULL));
    unsigned int timed_out = 0;
    for (int i = 0; i < 300; i++) {
        hop_deadline_t deadline;
        hop_deadline_enter(&deadline, i % 3);
        if (i % 30 == 0) {
            /* A deadline that has certainly fired: on a busy machine the
             * 0 ms ones may all lose the race with fast reads, and the
             * test must still see deadlines cut calls short. */
            while (hop_sleep(1) != HOP_ETIMEDOUT) {
            }
        }
        char buf[10];
        int64_t n = hop_file_read(f, buf, sizeof buf, 0);
        hop_fs_dir_t *d = NULL;
        int err = hop_fs_readdir(&loop_a, dir, &d);
        hop_deadline_leave(&deadline);
        CHECK(n == 10 || n == HOP_ETIMEDOUT, "read %lld", (long long)n);
        CHECK(i % 30 != 0 || (n == HOP_ETIMEDOUT && err == HOP_ETIMEDOUT), "expired deadline: read %lld, readdir %s",
              (long long)n, hop_err_name(err));
        CHECK(err == 0 || err == HOP_ETIMEDOUT, "readdir %s", hop_err_name(err));
        CHECK((err == 0) == (d != NULL));
        hop_fs_dir_free(d);
        timed_out += n == HOP_ETIMEDOUT;
    }
    CHECK_OK(hop_file_close(f));
    return (void *)(intptr_t)timed_out;
}

Test(io_fs, calls_under_deadlines_return_their_result_or_etimedout_and_leak_nothing) {
    intptr_t timed_out = run_task(POOL, deadlines_task, NULL);
    cr_assert_gt(timed_out, 0, "the 0 ms deadlines cut reads short");
}

/* ---- interrupts of requests queued in libuv's pool ---------------------------------------- */

#define BLOCKERS 8 /* twice libuv's pool (set to 4 below): half of them wait in its queue */

static void *fifo_blocker_task(void *arg) {
    /* Opening a FIFO for reading holds one of libuv's threads until a
     * writer opens it. */
    hop_file_t *f;
    int err = hop_file_open(&loop_a, arg, O_RDONLY, 0, &f);
    if (err == 0)
        err = hop_file_close(f);
    return (void *)(intptr_t)err;
}

typedef struct {
    int64_t ms; /* a deadline, or 0: none (the test cancels the task) */
    int err;
} queued_t;

static void *queued_mkdir_task(void *arg) {
    queued_t *q = arg;
    hop_deadline_t deadline;
    if (q->ms)
        hop_deadline_enter(&deadline, q->ms);
    q->err = hop_fs_mkdir(&loop_a, at("queued"), 0);
    if (q->ms)
        hop_deadline_leave(&deadline);
    return NULL;
}

Test(io_fs, an_interrupt_withdraws_a_request_still_queued_in_libuv_with_its_own_status) {
    setenv("UV_THREADPOOL_SIZE", "4", 1); /* read at libuv's first request, in this test's process */
    cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s", at("fifo"));
    hop_task_t *blockers[BLOCKERS];
    for (int i = 0; i < BLOCKERS; i++) {
        blockers[i] = test_spawn(LOOP_A, fifo_blocker_task, fifo);
        test_wait_suspended(blockers[i]); /* its open is in libuv's queue */
    }
    /* Behind them in the queue: a cancel withdraws it... */
    queued_t cancelled = {0};
    hop_task_t *t = test_spawn(POOL, queued_mkdir_task, &cancelled);
    test_wait_suspended(t);
    HOP_OK(hop_task_cancel(t));
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    /* ...and a deadline too, with HOP_ETIMEDOUT. */
    queued_t timed = {.ms = 50};
    t = test_spawn(LOOP_B, queued_mkdir_task, &timed);
    cr_assert_eq(test_join(t), 0);
    /* A writer lets every blocked open through. */
    int writer = open(fifo, O_WRONLY | O_NONBLOCK);
    cr_assert_geq(writer, 0);
    for (int i = 0; i < BLOCKERS; i++)
        cr_assert_eq(test_join(blockers[i]), 0);
    close(writer);
    test_assert_checks();
    cr_assert_eq(cancelled.err, HOP_ECANCELED, "%s", hop_err_name(cancelled.err));
    cr_assert_eq(timed.err, HOP_ETIMEDOUT, "%s", hop_err_name(timed.err));
    struct stat st;
    cr_assert_eq(stat(at("queued"), &st), -1, "neither mkdir ran");
}

/* ---- cancels from a plain thread at random moments ---------------------------------------- */

#define CANCEL_ROUNDS (2000 / STRESS_SCALE)
#define RECORD 64

typedef struct {
    hop_file_t *file;
    unsigned int round;
    unsigned int started; /* atomic: the round's task runs */
    bool gated;           /* the task waits for go before writing... */
    unsigned int go;      /* atomic: ...which the canceller gives after its cancel */
    int err;              /* the write's result */
    size_t written;
    unsigned int resumed; /* the task ran past the write: exactly once per round */
} cancel_round_t;

static void record_of(unsigned int round, char *out) {
    for (int i = 0; i < RECORD; i++)
        out[i] = (char)(1 + (round * 31u + (unsigned int)i) % 250u);
}

static void *cancel_writer_task(void *arg) {
    cancel_round_t *c = arg;
    char record[RECORD];
    record_of(c->round, record);
    test_store_uint(&c->started, 1);
    if (c->gated)
        test_wait_for(&c->go, 1);
    c->err = hop_file_write(c->file, record, RECORD, (int64_t)c->round * RECORD, &c->written);
    c->resumed++;
    return NULL;
}

static void *open_for_stress_task(void *arg) {
    return (void *)(intptr_t)hop_file_open(&loop_a, at("stress"), O_RDWR | O_CREAT | O_TRUNC, 0, arg);
}

static void *close_file_task(void *arg) { return (void *)(intptr_t)hop_file_close(arg); }

static void *read_back_task(void *arg) {
    char *text;
    size_t len;
    int err = hop_fs_read_file(&loop_a, at("stress"), (size_t)CANCEL_ROUNDS * RECORD, &text, &len);
    if (err)
        return (void *)(intptr_t)err;
    *(char **)arg = text;
    return (void *)(intptr_t)len;
}

Test(io_fs, cancels_from_a_plain_thread_at_random_moments_neither_lose_nor_double_resume_a_write,
     .timeout = 300) {
    hop_file_t *file;
    cr_assert_eq(run_task(POOL, open_for_stress_task, &file), 0);
    static cancel_round_t rounds[CANCEL_ROUNDS];
    hop_executor_t *executors[] = {POOL, LOOP_B, LOOP_A};
    unsigned int seed = 42, cancelled = 0, done = 0;
    for (unsigned int r = 0; r < CANCEL_ROUNDS; r++) {
        cancel_round_t *c = &rounds[r];
        c->file = file;
        c->round = r;
        /* Every tenth round the cancel surely comes first, however threads
         * are scheduled: that write never starts. */
        c->gated = r % 10 == 9;
        hop_task_t *t = test_spawn(executors[r % 3], cancel_writer_task, c);
        while (!test_load_uint(&c->started))
            sched_yield();
        /* Mostly short pauses: a write takes a few microseconds, and the
         * cancels must meet it starting, queued in libuv and running. */
        unsigned int spin = (unsigned int)rand_r(&seed) % (r % 4 == 0 ? 20000u : 2000u);
        for (volatile unsigned int i = 0; i < spin; i++)
            ;
        hop_task_cancel(t);
        test_store_uint(&c->go, 1);
        int status = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(t);
        /* The write's outcome is exactly one of: done (all bytes), or
         * withdrawn before it started (none). */
        cr_assert(status == 0 || status == HOP_ECANCELED, "task ended with %s", hop_err_name(status));
        cr_assert_eq(c->resumed, 1u, "round %u: resumed once", r);
        cr_assert(c->err == 0 || c->err == HOP_ECANCELED, "round %u: %s", r, hop_err_name(c->err));
        cr_assert_eq(c->written, c->err == 0 ? (size_t)RECORD : 0u, "round %u", r);
        cancelled += c->err == HOP_ECANCELED;
        done += c->err == 0;
    }
    cr_assert_eq(run_task(POOL, close_file_task, file), 0);
    char *text = NULL;
    intptr_t len = run_task(POOL, read_back_task, &text);
    cr_assert_geq(len, 0, "%s", hop_err_name((int)len));
    /* Every write that said done is in the file; every one that said
     * cancelled left nothing (zeros, or past the end). */
    for (unsigned int r = 0; r < CANCEL_ROUNDS; r++) {
        char record[RECORD], zeros[RECORD] = {0};
        record_of(r, record);
        size_t off = (size_t)r * RECORD;
        const char *got = off + RECORD <= (size_t)len ? text + off : zeros;
        cr_assert(off + RECORD <= (size_t)len || off >= (size_t)len, "round %u cut in the middle", r);
        if (rounds[r].err == 0)
            cr_assert(memcmp(got, record, RECORD) == 0, "round %u: its write is there", r);
        else
            cr_assert(memcmp(got, zeros, RECORD) == 0, "round %u: its cancelled write left nothing", r);
    }
    free(text);
    cr_log_info("%u rounds: %u writes done, %u cancelled", CANCEL_ROUNDS, done, cancelled);
    cr_assert_gt(cancelled, 0u, "some cancels came before the write ran");
    cr_assert_gt(done, 0u, "some writes finished first");
}

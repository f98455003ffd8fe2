/* tests/test_io_pipe.c: Unix domain sockets by path (hop/pipe.h), under a
 * mkdtemp directory, and pipes and terminals opened by descriptor: their
 * connections are streams, used through hop/stream.h unchanged. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>

#include "io_tcp_fixture.h"

TestSuite(io_pipe, .init = setup, .fini = teardown, .timeout = 120);

/* A fresh directory for the test's socket files, removed at the end. */
typedef struct {
    char dir[64];
    char path[128];
} sockdir_t;

static void sockdir_make(sockdir_t *d) {
    strcpy(d->dir, "/tmp/hop-pipe-XXXXXX");
    cr_assert_not_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof d->path, "%s/s.sock", d->dir);
}

static void sockdir_remove(sockdir_t *d) { cr_assert_eq(rmdir(d->dir), 0, "the directory is empty again"); }

typedef struct {
    sockdir_t d;
    hop_pipe_listener_t *listener;
    hop_stream_t *client, *server;
} pipe_pair_t;

static void *pair_task(void *arg) {
    pipe_pair_t *p = arg;
    int err = hop_pipe_listen(&loop_a, p->d.path, NULL, &p->listener);
    if (!err)
        err = hop_pipe_connect(&loop_b, p->d.path, NULL, &p->client);
    if (!err)
        err = hop_pipe_accept(p->listener, &p->server);
    return (void *)(intptr_t)err;
}

static void *pair_close_task(void *arg) {
    pipe_pair_t *p = arg;
    CHECK_OK(hop_stream_close(p->client));
    CHECK_OK(hop_stream_close(p->server));
    CHECK_OK(hop_pipe_listener_close(p->listener));
    return NULL;
}

static void pair_open(pipe_pair_t *p) {
    memset(p, 0, sizeof *p);
    sockdir_make(&p->d);
    intptr_t err = run_task(POOL, pair_task, p);
    cr_assert_eq(err, 0, "%s", hop_err_name((int)err));
}

static void pair_close(pipe_pair_t *p) {
    run_task(POOL, pair_close_task, p);
    test_assert_checks();
    sockdir_remove(&p->d); /* the listener's close removed the socket file */
}

/* ---- connections ---------------------------------------------------------------- */

static void *talk_task(void *arg) {
    pipe_pair_t *p = arg;
    char line[64];
    CHECK_OK(hop_stream_write(p->client, "hello\nworld\n", 12, NULL));
    CHECK_OK(hop_stream_shutdown(p->client));
    CHECK(hop_stream_read_line(p->server, line, sizeof line) == 6 && memcmp(line, "hello\n", 6) == 0);
    CHECK(hop_stream_read_line(p->server, line, sizeof line) == 6 && memcmp(line, "world\n", 6) == 0);
    CHECK(hop_stream_read(p->server, line, sizeof line) == 0, "end of stream after the shutdown");
    CHECK_OK(hop_stream_write(p->server, "back", 4, NULL)); /* the other way still works */
    size_t done;
    CHECK_OK(hop_stream_read_exact(p->client, line, 4, &done));
    CHECK(memcmp(line, "back", 4) == 0);
    return NULL;
}

Test(io_pipe, a_connection_by_path_is_a_stream_with_lines_half_close_and_answers) {
    static pipe_pair_t p;
    pair_open(&p);
    run_task(LOOP_B, talk_task, &p);
    pair_close(&p);
}

static void *bulk_writer_task(void *arg) {
    pipe_pair_t *p = arg;
    static uint8_t out[4 << 20];
    fill_pattern(out, sizeof out, 0);
    CHECK_OK(hop_stream_write(p->client, out, sizeof out, NULL));
    return NULL;
}

static void *bulk_reader_task(void *arg) {
    pipe_pair_t *p = arg;
    static uint8_t in[4 << 20];
    size_t done;
    CHECK_OK(hop_stream_read_exact(p->server, in, sizeof in, &done));
    for (size_t i = 0; i < sizeof in; i++)
        if (in[i] != pattern_byte(i)) {
            CHECK(false, "byte %zu differs", i);
            break;
        }
    return NULL;
}

Test(io_pipe, four_mib_cross_a_unix_socket_intact_from_a_pool_task_to_a_loop_task) {
    static pipe_pair_t p;
    pair_open(&p);
    hop_task_t *w = test_spawn(POOL, bulk_writer_task, &p);
    hop_task_t *r = test_spawn(LOOP_A, bulk_reader_task, &p);
    cr_assert_eq(test_join(w), 0);
    cr_assert_eq(test_join(r), 0);
    pair_close(&p);
}

/* ---- listening ---------------------------------------------------------------------- */

static void *listen_twice_task(void *arg) {
    sockdir_t *d = arg;
    hop_pipe_listener_t *one, *two = NULL;
    int err = hop_pipe_listen(&loop_a, d->path, NULL, &one);
    if (err)
        return (void *)(intptr_t)-1;
    err = hop_pipe_listen(&loop_b, d->path, NULL, &two);
    CHECK(two == NULL);
    CHECK_OK(hop_pipe_listener_close(one));
    return (void *)(intptr_t)err;
}

Test(io_pipe, listening_on_a_path_in_use_gives_eaddrinuse) {
    static sockdir_t d;
    sockdir_make(&d);
    cr_assert_eq(run_task(POOL, listen_twice_task, &d), HOP_EADDRINUSE);
    test_assert_checks();
    sockdir_remove(&d);
}

static void *listen_close_task(void *arg) {
    sockdir_t *d = arg;
    hop_pipe_listen_options_t options = {.world_accessible = true};
    hop_pipe_listener_t *l;
    int err = hop_pipe_listen(NULL, d->path, &options, &l); /* NULL: this task's loop */
    if (err)
        return (void *)(intptr_t)err;
    struct stat st;
    CHECK(stat(d->path, &st) == 0 && S_ISSOCK(st.st_mode), "the socket file exists");
    CHECK((st.st_mode & 0666) == 0666, "and every user may connect (mode %o)", st.st_mode & 0777);
    CHECK_OK(hop_pipe_listener_close(l));
    CHECK(stat(d->path, &st) != 0, "the close removed it");
    return NULL;
}

Test(io_pipe, the_listener_creates_its_socket_file_and_its_close_removes_it) {
    static sockdir_t d;
    sockdir_make(&d);
    cr_assert_eq(run_task(LOOP_A, listen_close_task, &d), 0);
    test_assert_checks();
    sockdir_remove(&d);
}

typedef struct {
    pipe_pair_t *p;
    int err;
} accepter_t;

static void *accept_task(void *arg) {
    accepter_t *a = arg;
    hop_stream_t *s = NULL;
    a->err = hop_pipe_accept(a->p->listener, &s);
    if (!a->err)
        CHECK_OK(hop_stream_close(s));
    return NULL;
}

static void *close_listener_only_task(void *arg) {
    return (void *)(intptr_t)hop_pipe_listener_close(((pipe_pair_t *)arg)->listener);
}

Test(io_pipe, closing_the_listener_under_a_waiting_accept_wakes_it_with_eclosed) {
    static pipe_pair_t p;
    pair_open(&p);
    static accepter_t a;
    a.p = &p;
    hop_task_t *t = test_spawn(LOOP_B, accept_task, &a);
    test_wait_suspended(t);
    cr_assert_eq(run_task(POOL, close_listener_only_task, &p), 0);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(a.err, HOP_ECLOSED);
    cr_assert_eq(run_task(POOL, close_stream_task, p.client), 0);
    cr_assert_eq(run_task(POOL, close_stream_task, p.server), 0);
    test_assert_checks();
    sockdir_remove(&p.d);
}

static void *accept_deadline_task(void *arg) {
    accepter_t *a = arg;
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 20));
    hop_stream_t *s = NULL;
    a->err = hop_pipe_accept(a->p->listener, &s);
    hop_deadline_leave(&deadline);
    return NULL;
}

static void *connect_again_task(void *arg) {
    pipe_pair_t *p = arg;
    hop_stream_t *s;
    int err = hop_pipe_connect(&loop_b, p->d.path, NULL, &s);
    if (!err)
        CHECK_OK(hop_stream_close(s));
    return (void *)(intptr_t)err;
}

Test(io_pipe, a_deadline_cuts_an_accept_short_and_the_next_connection_is_still_accepted) {
    static pipe_pair_t p;
    pair_open(&p);
    static accepter_t a;
    a.p = &p;
    run_task(POOL, accept_deadline_task, &a);
    cr_assert_eq(a.err, HOP_ETIMEDOUT);
    cr_assert_eq(run_task(POOL, connect_again_task, &p), 0);
    run_task(LOOP_A, accept_task, &a);
    cr_assert_eq(a.err, 0);
    pair_close(&p);
}

/* ---- connecting ------------------------------------------------------------------------ */

static void *connect_fail_task(void *arg) {
    sockdir_t *d = arg;
    hop_stream_t *s = NULL;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.sock", d->dir);
    CHECK_ERR(hop_pipe_connect(&loop_a, missing, NULL, &s), HOP_ENOENT);
    /* A socket file nobody listens on (bound, never listening). */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, d->path);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK_ERR(hop_pipe_connect(&loop_a, d->path, NULL, &s), HOP_ECONNREFUSED);
    CHECK(s == NULL);
    close(fd);
    unlink(d->path);
    return NULL;
}

Test(io_pipe, connecting_where_nobody_listens_gives_enoent_or_econnrefused) {
    static sockdir_t d;
    sockdir_make(&d);
    run_task(POOL, connect_fail_task, &d);
    test_assert_checks();
    sockdir_remove(&d);
}

static void *bad_pipe_calls_task(void *arg) {
    (void)arg;
    char long_path[200];
    memset(long_path, 'x', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    hop_pipe_listener_t *l = NULL;
    hop_stream_t *s = NULL;
    CHECK_ERR(hop_pipe_listen(&loop_a, long_path, NULL, &l), HOP_EINVAL);
    CHECK_ERR(hop_pipe_listen(&loop_a, "", NULL, &l), HOP_EINVAL);
    CHECK_ERR(hop_pipe_listen(&loop_a, NULL, NULL, &l), HOP_EINVAL);
    CHECK_ERR(hop_pipe_connect(&loop_a, long_path, NULL, &s), HOP_EINVAL);
    CHECK_ERR(hop_pipe_accept(NULL, &s), HOP_EINVAL);
    /* libuv reports a missing directory as it does a forbidden one. */
    CHECK_ERR(hop_pipe_listen(&loop_a, "/nonexistent-dir-for-hop/s.sock", NULL, &l), HOP_EACCES);
    CHECK(l == NULL && s == NULL);
    return NULL;
}

Test(io_pipe, bad_paths_get_einval_and_calls_outside_tasks_get_enottask) {
    run_task(POOL, bad_pipe_calls_task, NULL);
    test_assert_checks();
    hop_pipe_listener_t *l;
    hop_stream_t *s;
    HOP_ERR(hop_pipe_listen(&loop_a, "/tmp/x.sock", NULL, &l), HOP_ENOTTASK);
    HOP_ERR(hop_pipe_connect(&loop_a, "/tmp/x.sock", NULL, &s), HOP_ENOTTASK);
}

/* ---- descriptors ------------------------------------------------------------------------- */

static void *pipe_fds_task(void *arg) {
    int *fds = arg;
    hop_stream_t *in, *out;
    CHECK_OK(hop_stream_open_fd(&loop_a, fds[0], NULL, &in));
    CHECK_OK(hop_stream_open_fd(&loop_b, fds[1], NULL, &out));
    char line[32];
    CHECK_OK(hop_stream_write(out, "through a pipe\n", 15, NULL));
    CHECK(hop_stream_read_line(in, line, sizeof line) == 15 && memcmp(line, "through a pipe\n", 15) == 0);
    CHECK_OK(hop_stream_close(out));
    CHECK(hop_stream_read(in, line, sizeof line) == 0, "the closed write end is the end of stream");
    CHECK_OK(hop_stream_close(in));
    return NULL;
}

Test(io_pipe, the_two_ends_of_a_pipe_opened_by_descriptor_are_streams) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    run_task(POOL, pipe_fds_task, fds);
    test_assert_checks();
}

static void *tty_task(void *arg) {
    int *fds = arg; /* [0] the master (plain), [1] the terminal */
    hop_stream_t *tty;
    CHECK_OK(hop_stream_open_fd(&loop_a, fds[1], NULL, &tty));
    CHECK_OK(hop_stream_write(tty, "to the terminal\n", 16, NULL));
    /* And what is typed at it (the master's side writes, the line
     * discipline hands over a line). */
    CHECK(write(fds[0], "typed\n", 6) == 6);
    char line[32];
    CHECK(hop_stream_read_line(tty, line, sizeof line) == 6 && memcmp(line, "typed\n", 6) == 0);
    CHECK_OK(hop_stream_close(tty));
    return NULL;
}

Test(io_pipe, a_terminal_opened_by_descriptor_is_a_stream) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert_geq(master, 0);
    cr_assert_eq(grantpt(master), 0);
    cr_assert_eq(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    cr_assert_geq(slave, 0);
    struct termios raw;
    cr_assert_eq(tcgetattr(slave, &raw), 0);
    raw.c_lflag &= ~(tcflag_t)ECHO;  /* no echo back into what the master reads */
    raw.c_oflag &= ~(tcflag_t)OPOST; /* "\n" stays "\n" */
    cr_assert_eq(tcsetattr(slave, TCSANOW, &raw), 0);
    int fds[2] = {master, slave};
    run_task(POOL, tty_task, fds);
    test_assert_checks();
    char got[64] = {0};
    size_t n = 0;
    while (n < 16) {
        ssize_t r = read(master, got + n, sizeof got - 1 - n);
        cr_assert_gt(r, 0);
        n += (size_t)r;
    }
    cr_assert_str_eq(got, "to the terminal\n");
    close(master);
}

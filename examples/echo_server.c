/* examples/echo_server.c: a TCP echo server, a task per connection.
 *
 *     example_echo_server [port] [idle_timeout_ms]     (default 7007, 30000)
 *
 * Each connection's task reads a line and writes it back until the client
 * ends, or stays silent longer than the idle timeout (a deadline around the
 * read). Ctrl-C stops accepting (a task waiting on a SIGINT watcher cancels
 * the accept loop); hop_run then returns once the open connections have
 * ended. */
#include <hop/hop.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int port;
    int64_t idle_ms;
} config_t;

static config_t config = {7007, 30000};

static void *serve(void *arg) {
    hop_stream_t *conn = arg;
    char line[4096];
    for (;;) {
        hop_deadline_t idle;
        hop_deadline_enter(&idle, config.idle_ms);
        int64_t n = hop_stream_read_line(conn, line, sizeof line);
        hop_deadline_leave(&idle);
        if (n == HOP_EMSGSIZE || n == HOP_EOF) /* no newline within 4 KiB, or a last line without one */
            n = hop_stream_read(conn, line, sizeof line);
        if (n <= 0) {
            if (n == HOP_ETIMEDOUT)
                hop_stream_write(conn, "idle, bye\n", 10, NULL);
            break;
        }
        if (hop_stream_write(conn, line, (size_t)n, NULL) != 0)
            break;
    }
    hop_stream_close(conn);
    return NULL;
}

typedef struct {
    hop_signal_t *sigint;
    hop_task_t *accepting;
} stopper_t;

/* Waits for Ctrl-C, then cancels the accept loop. Ends with HOP_ECLOSED
 * instead when the accept loop closes the watcher first. (hop_run waits for
 * this task too, so the accept loop's task, which may have ended, is still
 * there to be cancelled: that is then a harmless HOP_EALREADY.) */
static void *stopper(void *arg) {
    stopper_t *s = arg;
    if (hop_signal_wait(s->sigint) > 0) {
        fprintf(stderr, "\nstopping: no new connections\n");
        hop_task_cancel(s->accepting);
    }
    return NULL;
}

static void *accept_loop(void *arg) {
    (void)arg;
    hop_loop_t *loop = hop_loop_current(); /* hop_run's loop: this task runs on it */
    /* static: the stopper may still run after this task has returned */
    static stopper_t stop;
    stop.accepting = hop_task_current();
    int err = hop_signal_open(loop, SIGINT, &stop.sigint);
    if (err) {
        fprintf(stderr, "watch SIGINT: %s\n", hop_strerror(err));
        return NULL;
    }
    hop_task_t *stop_task;
    if (hop_task_spawn(hop_loop_executor(loop), stopper, &stop, NULL, &stop_task) == 0)
        hop_task_unref(stop_task);

    hop_tcp_listener_t *listener;
    err = hop_tcp_listen(loop, "0.0.0.0", config.port, NULL, &listener);
    if (err) {
        fprintf(stderr, "listen on port %d: %s\n", config.port, hop_strerror(err));
    } else {
        printf("echo server on port %d (idle timeout %lld ms)\n", config.port, (long long)config.idle_ms);
        fflush(stdout);
        for (;;) {
            hop_stream_t *conn;
            err = hop_tcp_accept(listener, &conn);
            if (err)
                break; /* HOP_ECANCELED after Ctrl-C */
            hop_task_t *task;
            if (hop_task_spawn(hop_loop_executor(loop), serve, conn, NULL, &task) == 0)
                hop_task_unref(task);
            else
                hop_stream_close(conn);
        }
        hop_tcp_listener_close(listener);
    }
    hop_signal_close(stop.sigint); /* wakes the stopper if Ctrl-C never came */
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        config.port = atoi(argv[1]);
    if (argc > 2)
        config.idle_ms = atoll(argv[2]);
    int status = hop_run(accept_loop, NULL, NULL);
    printf("stopped (%s)\n", status == 0 || status == HOP_ECANCELED ? "cleanly" : hop_strerror(status));
    return 0;
}

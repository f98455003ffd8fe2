/* examples/echo_client.c: many connections to an echo server, a task each.
 *
 *     example_echo_client [host] [port] [connections] [lines]
 *                          (default localhost 7007 10 100)
 *
 * Each task connects (the host name goes through DNS; each address is tried
 * in turn), sends its lines one at a time and checks each echo. Half of the
 * tasks run on the loop, half on a pool: the stream belongs to the loop, and
 * the pool tasks' reads and writes are carried there and back. */
#include <hop/hop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *host;
    int port, connections, lines;
    hop_loop_t *loop;
    hop_pool_t pool;
    unsigned int ok, failed; /* __atomic builtins */
} client_t;

static void *client(void *arg) {
    client_t *c = arg;
    hop_stream_t *conn;
    int err = hop_tcp_connect(c->loop, c->host, c->port, NULL, &conn);
    if (err) {
        fprintf(stderr, "connect to %s:%d: %s\n", c->host, c->port, hop_strerror(err));
        __atomic_fetch_add(&c->failed, 1u, __ATOMIC_RELAXED);
        return NULL;
    }
    hop_tcp_set_nodelay(conn, true);
    for (int i = 0; i < c->lines && !err; i++) {
        char out[64], in[64];
        int len = snprintf(out, sizeof out, "line %d from task %p\n", i, (void *)hop_task_current());
        err = hop_stream_write(conn, out, (size_t)len, NULL);
        int64_t n = err ? err : hop_stream_read_line(conn, in, sizeof in);
        if (n != len || memcmp(in, out, (size_t)len) != 0)
            err = n < 0 ? (int)n : HOP_EIO;
    }
    hop_stream_close(conn);
    __atomic_fetch_add(err ? &c->failed : &c->ok, 1u, __ATOMIC_RELAXED);
    return NULL;
}

static void *run_clients(void *arg) {
    client_t *c = arg;
    c->loop = hop_loop_current();
    hop_task_t **tasks = calloc((size_t)c->connections, sizeof *tasks);
    for (int i = 0; i < c->connections; i++) {
        hop_executor_t *executor = i % 2 ? hop_pool_executor(&c->pool) : hop_loop_executor(c->loop);
        hop_task_spawn(executor, client, c, NULL, &tasks[i]);
    }
    for (int i = 0; i < c->connections; i++) {
        if (tasks[i]) {
            hop_task_join(tasks[i], NULL);
            hop_task_unref(tasks[i]);
        }
    }
    free(tasks);
    return NULL;
}

int main(int argc, char **argv) {
    client_t c = {.host = argc > 1 ? argv[1] : "localhost",
                  .port = argc > 2 ? atoi(argv[2]) : 7007,
                  .connections = argc > 3 ? atoi(argv[3]) : 10,
                  .lines = argc > 4 ? atoi(argv[4]) : 100};
    hop_pool_init(&c.pool, NULL);
    hop_run(run_clients, &c, NULL);
    hop_pool_close(&c.pool);
    printf("%u connections echoed %d lines each, %u failed\n", c.ok, c.lines, c.failed);
    return c.failed ? 1 : 0;
}

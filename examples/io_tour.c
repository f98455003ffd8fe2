/* examples/io_tour.c: one task does file, DNS and child-process I/O while
 * it moves between a libuv loop and a work-stealing pool.
 *
 *     example_io_tour
 *
 * The task starts on hop_run's loop, writes a file and reads it back whole,
 * crosses to the pool to count the words (CPU work has no business on the
 * loop), resolves "localhost" and runs `wc -w` fed through a pipe from
 * there (each call is carried to the loop and the task comes back to the
 * pool), checks that wc agrees with its own count, and returns to the loop
 * to remove the file. Every step prints where the task runs. Exit status 0
 * when every step worked and the counts agree. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <hop/hop.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static hop_pool_t pool;

static void where(const char *step) {
    printf("%-34s on %s (%s)\n", step, hop_executor_name(hop_executor_current()),
           hop_loop_current() ? "the loop's thread" : "a pool worker");
    fflush(stdout);
}

static int fail(const char *what, int err) {
    fprintf(stderr, "%s: %s\n", what, hop_strerror(err));
    return err;
}

static size_t count_words(const char *text) {
    size_t words = 0;
    for (const char *c = text; *c; c++)
        if (*c != ' ' && *c != '\n' && (c == text || c[-1] == ' ' || c[-1] == '\n'))
            words++;
    return words;
}

/* Runs `wc -w`, writes text to its stdin, and returns the count it prints. */
static int wc_words(hop_loop_t *loop, const char *text, size_t len, long *words) {
    const char *argv[] = {"wc", "-w", NULL};
    hop_process_options_t options = {.stdio = {HOP_STDIO_PIPE, HOP_STDIO_PIPE, HOP_STDIO_INHERIT}};
    hop_process_t *wc;
    int err = hop_process_spawn(loop, argv, &options, &wc);
    if (err)
        return fail("spawn wc", err);
    hop_stream_t *in = hop_process_pipe(wc, 0), *out = hop_process_pipe(wc, 1);
    err = hop_stream_write(in, text, len, NULL);
    hop_stream_close(in); /* wc counts once its input ends */
    char answer[64];
    int64_t n = hop_stream_read_line(out, answer, sizeof answer - 1);
    hop_stream_close(out);
    int64_t status = -1;
    int signal = 0;
    int wait_err = hop_process_wait(wc, &status, &signal);
    hop_process_close(wc);
    if (err || n <= 0 || wait_err || status != 0)
        return fail("wc", err ? err : n < 0 ? (int)n : wait_err ? wait_err : HOP_EIO);
    answer[n] = '\0';
    *words = strtol(answer, NULL, 10);
    return 0;
}

static void *tour(void *arg) {
    (void)arg;
    hop_loop_t *loop = hop_loop_current(); /* hop_run's */
    char path[64];
    snprintf(path, sizeof path, "/tmp/hop_io_tour_%ld.txt", (long)getpid());
    static const char poem[] = "a task reads a file\nresolves a name\nruns a child\nand comes home\n";

    where("start");
    hop_file_t *file;
    int err = hop_file_open(loop, path, O_WRONLY | O_CREAT | O_TRUNC, 0600, &file);
    if (err)
        return (void *)(intptr_t)fail("open", err);
    err = hop_file_write(file, poem, sizeof poem - 1, 0, NULL);
    hop_file_close(file);
    char *text;
    size_t len;
    if (err || (err = hop_fs_read_file(loop, path, 1 << 20, &text, &len)) != 0)
        return (void *)(intptr_t)fail("write and read back", err);
    printf("  read %zu bytes back from %s\n", len, path);
    where("file written and read");

    hop_dispatch_to_executor(hop_pool_executor(&pool));
    size_t mine = count_words(text);
    printf("  %zu words, counted by the task\n", mine);
    where("words counted");

    struct addrinfo hints, *addresses;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    err = hop_getaddrinfo(loop, "localhost", NULL, &hints, &addresses);
    if (err == 0) {
        char host[64] = "?";
        hop_getnameinfo(loop, addresses->ai_addr, NI_NUMERICHOST, host, sizeof host, NULL, 0);
        printf("  localhost is %s\n", host);
        hop_freeaddrinfo(addresses);
    } else {
        fail("resolve localhost", err);
    }
    where("localhost resolved");

    long theirs = -1;
    int wc_err = wc_words(loop, text, len, &theirs);
    if (wc_err == 0)
        printf("  %ld words, counted by wc -w\n", theirs);
    where("child process done");

    hop_dispatch_to_loop(loop);
    int unlink_err = hop_fs_unlink(loop, path);
    free(text);
    where("file removed");
    if (err || wc_err || unlink_err || theirs != (long)mine)
        return (void *)(intptr_t)HOP_EIO;
    return NULL;
}

int main(void) {
    hop_pool_options_t options = {.threads = 2};
    if (hop_pool_init(&pool, &options) != 0)
        return 1;
    void *result = NULL;
    int status = hop_run(tour, NULL, &result);
    hop_pool_close(&pool);
    if (status || result) {
        fprintf(stderr, "io_tour failed: %s\n", hop_strerror(status ? status : (int)(intptr_t)result));
        return 1;
    }
    printf("all done\n");
    return 0;
}

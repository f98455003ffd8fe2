/* src/io/pipe.c: Unix domain socket listeners and connects (hop/pipe.h), on
 * the listener and connect that TCP uses (stream_internal.h): only the
 * handle's kind and the address differ. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types */
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/fault.h"
#include "hop/pipe.h"
#include "io/stream_internal.h"

struct hop_pipe_listener_s {
    hop__listener_t l; /* l.uv.pipe */
};

static bool hop__pipe_path_ok(const char *path) {
    return path && path[0] && strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path);
}

static int hop__pipe_init_stream(uv_loop_t *uv, hop_stream_t *s) {
    return hop__uv_init(uv_pipe_init(uv, &s->uv.pipe, 0));
}

/* ---- listening ------------------------------------------------------------------ */

typedef struct {
    hop_pipe_listener_t *l;
    const char *path;
    const hop_pipe_listen_options_t *options;
    bool ran;
} hop__pipe_listen_t;

/* Loop thread. On failure the listener is gone (freed or closing). */
static int hop__pipe_listen_on_loop(void *arg) {
    hop__pipe_listen_t *a = arg;
    hop__listener_t *l = &a->l->l;
    a->ran = true;
    uv_loop_t *uv = hop_loop_uv(l->h.loop);
    int err = uv ? hop__uv_init(uv_pipe_init(uv, &l->uv.pipe, 0)) : UV_EBADF;
    if (err) {
        free(l);
        return uv ? hop__io_error(err) : HOP_ECLOSED;
    }
    hop__io_handle_opened(&l->h);
    err = uv_pipe_bind(&l->uv.pipe, a->path); /* libuv unlinks the file when the handle closes */
    if (!err && a->options->world_accessible)
        err = uv_pipe_chmod(&l->uv.pipe, UV_READABLE | UV_WRITABLE);
    if (err) {
        hop__io_handle_close_now(&l->h);
        return hop__io_error(err);
    }
    return hop__listener_listen(l, a->options->backlog);
}

int hop_pipe_listen(hop_loop_t *loop, const char *path, const hop_pipe_listen_options_t *options,
                    hop_pipe_listener_t **listener) {
    static const hop_pipe_listen_options_t defaults = {0};
    if (listener)
        *listener = NULL;
    loop = hop__stream_loop_or_current(loop);
    if (!listener || !loop || !hop__pipe_path_ok(path))
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    if (!options)
        options = &defaults;
    hop_pipe_listener_t *l = hop__calloc(1, sizeof *l);
    if (!l)
        return HOP_ENOMEM;
    hop__listener_init(&l->l, loop, hop__pipe_init_stream, &options->stream);
    hop__pipe_listen_t a = {.l = l, .path = path, .options = options};
    int err = hop__io_call_on_loop(loop, hop__pipe_listen_on_loop, &a);
    if (err && !a.ran)
        free(l); /* the loop refused the call */
    if (err)
        return err;
    *listener = l;
    return 0;
}

int hop_pipe_accept(hop_pipe_listener_t *listener, hop_stream_t **stream) {
    if (stream)
        *stream = NULL;
    if (!listener || !stream)
        return HOP_EINVAL;
    return hop__listener_accept(&listener->l, stream);
}

int hop_pipe_listener_close(hop_pipe_listener_t *listener) {
    if (!listener)
        return HOP_EINVAL;
    return hop__io_handle_close(&listener->l.h);
}

/* ---- connecting -------------------------------------------------------------------- */

static int hop__pipe_connect_now(hop_stream_t *s, const void *path) {
    /* Errors (no such file, refused) come through the callback. */
    uv_pipe_connect(&s->connect_req, &s->uv.pipe, path, hop__stream_connect_cb);
    return 0;
}

int hop_pipe_connect(hop_loop_t *loop, const char *path, const hop_stream_options_t *options,
                     hop_stream_t **stream) {
    if (stream)
        *stream = NULL;
    loop = hop__stream_loop_or_current(loop);
    if (!stream || !loop || !hop__pipe_path_ok(path))
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    return hop__stream_connect(loop, options, hop__pipe_init_stream, hop__pipe_connect_now, path, "pipe connect", -1,
                               path, stream);
}

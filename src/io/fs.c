/* src/io/fs.c: files and directories (hop/fs.h) over uv_fs_*.
 *
 * Every call is one hop__io_op_t with its uv_fs_t on the task's stack: start
 * issues the request on the loop thread, libuv runs it on its thread pool,
 * and the callback (loop thread) completes the operation. A request cannot
 * be withdrawn once libuv's pool runs it (a read may be writing into the
 * caller's buffer right now), so cancel only asks libuv to drop it if it has
 * not started (uv_cancel) and always lets the callback finish the operation:
 * the task stays suspended until libuv is done with the request, and the
 * request's result (or UV_ECANCELED, which becomes the interrupt's status)
 * is the call's. The task frees what libuv allocated for the request
 * (uv_fs_req_cleanup) once it has resumed: libuv does not touch it then. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fault.h"
#include "hop/fs.h"
#include "io/io_internal.h"

/* A file with a descriptor; refs and closing as hop__io_handle_t's, without
 * a uv handle (libuv's file calls take the bare descriptor). */
struct hop_file_s {
    hop_loop_t *loop;
    uv_file fd;
    unsigned int refs;    /* atomic: 1 while open + 1 per call in flight */
    unsigned int closing; /* atomic: close has begun */
};

typedef enum {
    HOP__FS_OPEN,
    HOP__FS_CLOSE,
    HOP__FS_READ,
    HOP__FS_WRITE,
    HOP__FS_FSYNC,
    HOP__FS_FSTAT,
    HOP__FS_STAT,
    HOP__FS_RENAME,
    HOP__FS_UNLINK,
    HOP__FS_MKDIR,
    HOP__FS_RMDIR,
    HOP__FS_SCANDIR,
} hop__fs_kind_t;

typedef struct {
    hop__io_op_t op;
    uv_fs_t req;
    hop__fs_kind_t kind;
    bool issued; /* req was handed to libuv: the task cleans it up */
    const char *path, *to;
    uv_file fd;
    int flags, mode;
    uv_buf_t buf;
    int64_t offset;
} hop__fs_op_t;

/* ---- one operation ------------------------------------------------------ */

static void hop__fs_cb(uv_fs_t *req) {
    hop__fs_op_t *f = hop__container_of(req, hop__fs_op_t, req);
    int status = 0;
    if (req->result == UV_ECANCELED && f->op.interrupted)
        status = f->op.interrupt_status; /* withdrawn before libuv's pool ran it */
    else if (req->result < 0)
        status = hop__io_error((int)req->result);
    hop__io_op_complete(&f->op, status); /* f may be gone from here on */
}

static int hop__fs_issue(hop__fs_op_t *f, uv_loop_t *uv) {
    uv_fs_t *req = &f->req;
    switch (f->kind) {
    case HOP__FS_OPEN:
        return uv_fs_open(uv, req, f->path, f->flags, f->mode, hop__fs_cb);
    case HOP__FS_CLOSE:
        return uv_fs_close(uv, req, f->fd, hop__fs_cb);
    case HOP__FS_READ:
        return uv_fs_read(uv, req, f->fd, &f->buf, 1, f->offset, hop__fs_cb);
    case HOP__FS_WRITE:
        return uv_fs_write(uv, req, f->fd, &f->buf, 1, f->offset, hop__fs_cb);
    case HOP__FS_FSYNC:
        return uv_fs_fsync(uv, req, f->fd, hop__fs_cb);
    case HOP__FS_FSTAT:
        return uv_fs_fstat(uv, req, f->fd, hop__fs_cb);
    case HOP__FS_STAT:
        return uv_fs_stat(uv, req, f->path, hop__fs_cb);
    case HOP__FS_RENAME:
        return uv_fs_rename(uv, req, f->path, f->to, hop__fs_cb);
    case HOP__FS_UNLINK:
        return uv_fs_unlink(uv, req, f->path, hop__fs_cb);
    case HOP__FS_MKDIR:
        return uv_fs_mkdir(uv, req, f->path, f->mode, hop__fs_cb);
    case HOP__FS_RMDIR:
        return uv_fs_rmdir(uv, req, f->path, hop__fs_cb);
    case HOP__FS_SCANDIR:
        return uv_fs_scandir(uv, req, f->path, 0, hop__fs_cb);
    }
    return UV_EINVAL;
}

static int hop__fs_start(hop__io_op_t *op) {
    hop__fs_op_t *f = (hop__fs_op_t *)op;
    uv_loop_t *uv = hop_loop_uv(op->loop);
    if (!uv)
        return HOP_ECLOSED;
    int err = hop__fs_issue(f, uv);
    /* Even a request libuv refused at once may hold a copy of the path. */
    f->issued = true;
    return err ? hop__io_error(err) : HOP__IO_PENDING;
}

/* Loop thread, while the request is pending: drops it if libuv's pool has
 * not picked it up (its callback then comes with UV_ECANCELED); either way
 * the callback finishes the operation, since the request is on the task's
 * stack and a running one may be filling the caller's buffer. */
static int hop__fs_cancel(hop__io_op_t *op) {
    uv_cancel((uv_req_t *)&((hop__fs_op_t *)op)->req);
    return HOP_EALREADY;
}

/* Runs f on loop (interruptible unless shielded) and returns its status;
 * req.result holds libuv's result. The caller calls hop__fs_done after
 * reading what it needs from req. */
static int hop__fs_run(hop__fs_op_t *f, hop_loop_t *loop, bool shielded) {
    static const char *const what[] = {
        [HOP__FS_OPEN] = "fs open",   [HOP__FS_CLOSE] = "fs close",     [HOP__FS_READ] = "fs read",
        [HOP__FS_WRITE] = "fs write", [HOP__FS_FSYNC] = "fs fsync",     [HOP__FS_FSTAT] = "fs fstat",
        [HOP__FS_STAT] = "fs stat",   [HOP__FS_RENAME] = "fs rename",   [HOP__FS_UNLINK] = "fs unlink",
        [HOP__FS_MKDIR] = "fs mkdir", [HOP__FS_RMDIR] = "fs rmdir",     [HOP__FS_SCANDIR] = "fs scandir",
    };
    /* The ones on a path show it (copied: the caller's string may be gone
     * when a dump reads it); the others their descriptor. */
    if (f->path)
        hop__io_op_describe_as(&f->op, what[f->kind], NULL, 0, f->path);
    else
        hop__io_op_describe_as(&f->op, what[f->kind], "fd", f->fd, NULL);
    return hop__io_op_run(&f->op, loop, hop__fs_start, shielded ? NULL : hop__fs_cancel);
}

static void hop__fs_done(hop__fs_op_t *f) {
    if (f->issued)
        uv_fs_req_cleanup(&f->req);
}

/* A path call: runs kind on path (and to) and cleans up. */
static int hop__fs_path_call(hop_loop_t *loop, hop__fs_kind_t kind, const char *path, const char *to,
                             int mode) {
    loop = loop ? loop : hop_loop_current();
    if (!loop || !path || (kind == HOP__FS_RENAME && !to))
        return HOP_EINVAL;
    hop__fs_op_t f = {.kind = kind, .path = path, .to = to, .mode = mode};
    int err = hop__fs_run(&f, loop, false);
    hop__fs_done(&f);
    return err;
}

/* ---- stat ----------------------------------------------------------------- */

static hop_fs_type_t hop__fs_type_of_mode(uint64_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG:
        return HOP_FS_FILE;
    case S_IFDIR:
        return HOP_FS_DIR;
    case S_IFLNK:
        return HOP_FS_SYMLINK;
    case S_IFIFO:
        return HOP_FS_FIFO;
    case S_IFSOCK:
        return HOP_FS_SOCKET;
    case S_IFCHR:
        return HOP_FS_CHAR;
    case S_IFBLK:
        return HOP_FS_BLOCK;
    default:
        return HOP_FS_UNKNOWN;
    }
}

static int64_t hop__fs_ns(uv_timespec_t t) { return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_nsec; }

static void hop__fs_stat_out(const uv_stat_t *in, hop_fs_stat_t *out) {
    memset(out, 0, sizeof *out);
    out->type = hop__fs_type_of_mode(in->st_mode);
    out->mode = (uint32_t)in->st_mode;
    out->size = in->st_size;
    out->nlink = in->st_nlink;
    out->uid = in->st_uid;
    out->gid = in->st_gid;
    out->ino = in->st_ino;
    out->dev = in->st_dev;
    out->atime_ns = hop__fs_ns(in->st_atim);
    out->mtime_ns = hop__fs_ns(in->st_mtim);
    out->ctime_ns = hop__fs_ns(in->st_ctim);
}

int hop_fs_stat(hop_loop_t *loop, const char *path, hop_fs_stat_t *stat) {
    loop = loop ? loop : hop_loop_current();
    if (!loop || !path || !stat)
        return HOP_EINVAL;
    hop__fs_op_t f = {.kind = HOP__FS_STAT, .path = path};
    int err = hop__fs_run(&f, loop, false);
    if (err == 0)
        hop__fs_stat_out(&f.req.statbuf, stat);
    hop__fs_done(&f);
    return err;
}

/* ---- paths ------------------------------------------------------------------ */

int hop_fs_rename(hop_loop_t *loop, const char *from, const char *to) {
    return hop__fs_path_call(loop, HOP__FS_RENAME, from, to, 0);
}

int hop_fs_unlink(hop_loop_t *loop, const char *path) {
    return hop__fs_path_call(loop, HOP__FS_UNLINK, path, NULL, 0);
}

int hop_fs_mkdir(hop_loop_t *loop, const char *path, int mode) {
    return hop__fs_path_call(loop, HOP__FS_MKDIR, path, NULL, mode ? mode : 0777);
}

int hop_fs_rmdir(hop_loop_t *loop, const char *path) {
    return hop__fs_path_call(loop, HOP__FS_RMDIR, path, NULL, 0);
}

static hop_fs_type_t hop__fs_type_of_dirent(uv_dirent_type_t type) {
    switch (type) {
    case UV_DIRENT_FILE:
        return HOP_FS_FILE;
    case UV_DIRENT_DIR:
        return HOP_FS_DIR;
    case UV_DIRENT_LINK:
        return HOP_FS_SYMLINK;
    case UV_DIRENT_FIFO:
        return HOP_FS_FIFO;
    case UV_DIRENT_SOCKET:
        return HOP_FS_SOCKET;
    case UV_DIRENT_CHAR:
        return HOP_FS_CHAR;
    case UV_DIRENT_BLOCK:
        return HOP_FS_BLOCK;
    default:
        return HOP_FS_UNKNOWN;
    }
}

/* Copies scandir's answer into one block: the header, the entries, the
 * names. uv_fs_scandir_next frees each entry as it moves past it, so one
 * pass gathers the names into a scratch buffer first. */
static int hop__fs_dir_build(uv_fs_t *req, hop_fs_dir_t **dir) {
    size_t most = req->result > 0 ? (size_t)req->result : 0; /* the entries scandir found */
    hop_fs_type_t *types = hop__malloc((most ? most : 1) * sizeof *types);
    char *names = NULL;
    size_t count = 0, used = 0, cap = 0;
    uv_dirent_t ent;
    int err = types ? 0 : HOP_ENOMEM;
    /* To the end (UV_EOF) even after a failure: libuv frees the last entry
     * only in that final call, not in uv_fs_req_cleanup. */
    while (uv_fs_scandir_next(req, &ent) == 0) {
        if (err || count == most)
            continue;
        size_t n = strlen(ent.name) + 1;
        if (used + n > cap) {
            size_t grown = cap ? cap * 2 : 256;
            while (grown < used + n)
                grown *= 2;
            char *more = hop__realloc(names, grown);
            if (!more) {
                err = HOP_ENOMEM;
                continue;
            }
            names = more;
            cap = grown;
        }
        memcpy(names + used, ent.name, n);
        used += n;
        types[count++] = hop__fs_type_of_dirent(ent.type);
    }
    size_t head = sizeof(hop_fs_dir_t) + count * sizeof(hop_fs_dirent_t);
    hop_fs_dir_t *d = err ? NULL : hop__malloc(head + used);
    if (!err && !d)
        err = HOP_ENOMEM;
    if (d) {
        d->count = count;
        d->entries = (hop_fs_dirent_t *)(d + 1);
        char *at = (char *)d + head;
        if (used)
            memcpy(at, names, used);
        for (size_t i = 0; i < count; i++) {
            d->entries[i].name = at;
            d->entries[i].type = types[i];
            at += strlen(at) + 1;
        }
        *dir = d;
    }
    free(types);
    free(names);
    return err;
}

int hop_fs_readdir(hop_loop_t *loop, const char *path, hop_fs_dir_t **dir) {
    if (dir)
        *dir = NULL;
    loop = loop ? loop : hop_loop_current();
    if (!loop || !path || !dir)
        return HOP_EINVAL;
    hop__fs_op_t f = {.kind = HOP__FS_SCANDIR, .path = path};
    int err = hop__fs_run(&f, loop, false);
    if (err == 0)
        err = hop__fs_dir_build(&f.req, dir);
    hop__fs_done(&f);
    return err;
}

void hop_fs_dir_free(hop_fs_dir_t *dir) { free(dir); }

/* ---- open files ----------------------------------------------------------- */

static int hop__file_enter(hop_file_t *file) {
    hop__atomic_faa_uint(&file->refs, 1u);
    if (hop__atomic_load_uint(&file->closing)) {
        if (hop__atomic_faa_uint(&file->refs, (unsigned int)-1) == 1u)
            free(file);
        return HOP_ECLOSED;
    }
    return 0;
}

static void hop__file_leave(hop_file_t *file) {
    if (hop__atomic_faa_uint(&file->refs, (unsigned int)-1) == 1u)
        free(file);
}

/* Closes fd on loop, whatever interrupts are pending. A closed loop refuses
 * the job (start never ran, so fd is still open): close(2) here then, a
 * short call, so that no descriptor outlives its file. */
static int hop__fs_close_fd(hop_loop_t *loop, uv_file fd) {
    hop__fs_op_t f = {.kind = HOP__FS_CLOSE, .fd = fd};
    int err = hop__fs_run(&f, loop, true);
    if (err == HOP_ECLOSED && !f.issued)
        err = close(fd) == 0 ? 0 : HOP_EIO;
    hop__fs_done(&f);
    return err;
}

static int hop__fs_open_fd(hop_loop_t *loop, const char *path, int flags, int mode, uv_file *fd) {
    hop__fs_op_t f = {.kind = HOP__FS_OPEN, .path = path, .flags = flags, .mode = mode};
    int err = hop__fs_run(&f, loop, false);
    if (err == 0)
        *fd = (uv_file)f.req.result;
    hop__fs_done(&f);
    return err;
}

int hop_file_open(hop_loop_t *loop, const char *path, int flags, int mode, hop_file_t **file) {
    if (file)
        *file = NULL;
    loop = loop ? loop : hop_loop_current();
    if (!loop || !path || !file)
        return HOP_EINVAL;
    hop_file_t *f = hop__malloc(sizeof *f);
    if (!f)
        return HOP_ENOMEM;
    uv_file fd;
    int err = hop__fs_open_fd(loop, path, flags, mode ? mode : 0666, &fd);
    if (err) {
        free(f);
        return err;
    }
    f->loop = loop;
    f->fd = fd;
    f->refs = 1;
    f->closing = 0;
    *file = f;
    return 0;
}

/* One read or write of at most len bytes at offset; returns the count or an error. */
static int64_t hop__file_rw(hop_file_t *file, hop__fs_kind_t kind, const void *buf, size_t len,
                            int64_t offset) {
    hop__fs_op_t f = {.kind = kind, .fd = file->fd, .offset = offset};
    f.buf = uv_buf_init((char *)buf, len > UINT32_MAX ? UINT32_MAX : (unsigned int)len);
    int err = hop__fs_run(&f, file->loop, false);
    int64_t result = err ? err : (int64_t)f.req.result;
    hop__fs_done(&f);
    return result;
}

int64_t hop_file_read(hop_file_t *file, void *buf, size_t len, int64_t offset) {
    if (!file || (!buf && len) || offset < HOP_FILE_CURRENT)
        return HOP_EINVAL;
    if (len == 0)
        return 0;
    int err = hop__file_enter(file);
    if (err)
        return err;
    int64_t n = hop__file_rw(file, HOP__FS_READ, buf, len, offset);
    hop__file_leave(file);
    return n;
}

int hop_file_write(hop_file_t *file, const void *buf, size_t len, int64_t offset, size_t *written) {
    if (written)
        *written = 0;
    if (!file || (!buf && len) || offset < HOP_FILE_CURRENT)
        return HOP_EINVAL;
    int err = hop__file_enter(file);
    if (err)
        return err;
    size_t done = 0;
    while (done < len) {
        int64_t at = offset == HOP_FILE_CURRENT ? HOP_FILE_CURRENT : offset + (int64_t)done;
        int64_t n = hop__file_rw(file, HOP__FS_WRITE, (const char *)buf + done, len - done, at);
        if (n < 0) {
            err = (int)n;
            break;
        }
        if (n == 0) {
            err = HOP_EIO; /* a write that takes nothing would spin */
            break;
        }
        done += (size_t)n;
        if (written)
            *written = done;
    }
    hop__file_leave(file);
    return err;
}

int hop_file_sync(hop_file_t *file) {
    if (!file)
        return HOP_EINVAL;
    int err = hop__file_enter(file);
    if (err)
        return err;
    hop__fs_op_t f = {.kind = HOP__FS_FSYNC, .fd = file->fd};
    err = hop__fs_run(&f, file->loop, false);
    hop__fs_done(&f);
    hop__file_leave(file);
    return err;
}

int hop_file_stat(hop_file_t *file, hop_fs_stat_t *stat) {
    if (!file || !stat)
        return HOP_EINVAL;
    int err = hop__file_enter(file);
    if (err)
        return err;
    hop__fs_op_t f = {.kind = HOP__FS_FSTAT, .fd = file->fd};
    err = hop__fs_run(&f, file->loop, false);
    if (err == 0)
        hop__fs_stat_out(&f.req.statbuf, stat);
    hop__fs_done(&f);
    hop__file_leave(file);
    return err;
}

int hop_file_close(hop_file_t *file) {
    if (!file)
        return HOP_EINVAL;
    /* Once its loop has closed no loop is involved: close(2) on this thread,
     * any thread, as every I/O handle's close does then. */
    bool loop_closed = hop_loop_uv(file->loop) == NULL;
    if (!loop_closed && !hop_task_current())
        return HOP_ENOTTASK;
    hop__atomic_faa_uint(&file->refs, 1u); /* ours until close returns */
    if (!hop__atomic_cas_uint(&file->closing, 0u, 1u)) {
        hop__file_leave(file);
        return HOP_EALREADY;
    }
    int err = loop_closed ? (close(file->fd) == 0 ? 0 : HOP_EIO) : hop__fs_close_fd(file->loop, file->fd);
    hop__file_leave(file);
    hop__file_leave(file); /* the open reference */
    return err;
}

int hop_file_fd(const hop_file_t *file) { return file ? file->fd : -1; }

hop_loop_t *hop_file_loop(const hop_file_t *file) { return file ? file->loop : NULL; }

/* ---- whole files ------------------------------------------------------------- */

int hop_fs_read_file(hop_loop_t *loop, const char *path, size_t max, char **data, size_t *len) {
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    loop = loop ? loop : hop_loop_current();
    if (!loop || !path || !data || !len)
        return HOP_EINVAL;
    uv_file fd;
    int err = hop__fs_open_fd(loop, path, O_RDONLY, 0, &fd);
    if (err)
        return err;
    /* The size says how much to allocate, not when to stop: a file may grow
     * while it is read, and /proc files say 0. Reading stops at the end. */
    hop__fs_op_t st = {.kind = HOP__FS_FSTAT, .fd = fd};
    err = hop__fs_run(&st, loop, false);
    /* Only a regular file's size means anything (a pipe's or device's does
     * not); a directory cannot be read. */
    uint64_t size = (st.req.statbuf.st_mode & S_IFMT) == S_IFREG ? st.req.statbuf.st_size : 0;
    if (err == 0 && (st.req.statbuf.st_mode & S_IFMT) == S_IFDIR)
        err = HOP_EIO;
    hop__fs_done(&st);
    if (max > SIZE_MAX - 2)
        max = SIZE_MAX - 2;
    char *buf = NULL;
    size_t used = 0;
    /* Room for the bytes the size announces plus one, so that a file that
     * grew shows it; never more than max + 1, which is enough to tell that a
     * file is too long. The buffer has one byte more, for the '\0'. */
    size_t room = (size < max ? (size_t)size : max) + 1;
    if (err == 0 && size > max)
        err = HOP_EMSGSIZE;
    if (err == 0 && !(buf = hop__malloc(room + 1)))
        err = HOP_ENOMEM;
    while (err == 0) {
        if (used == room) { /* room <= max here: used > max has ended the loop */
            size_t grown = room > (max + 1) / 2 ? max + 1 : room * 2;
            char *more = hop__realloc(buf, grown + 1);
            if (!more) {
                err = HOP_ENOMEM;
                break;
            }
            buf = more;
            room = grown;
        }
        size_t want = room - used > UINT32_MAX ? UINT32_MAX : room - used;
        hop__fs_op_t rd = {.kind = HOP__FS_READ, .fd = fd, .offset = (int64_t)used};
        rd.buf = uv_buf_init(buf + used, (unsigned int)want);
        err = hop__fs_run(&rd, loop, false);
        int64_t n = err ? 0 : (int64_t)rd.req.result;
        hop__fs_done(&rd);
        if (err || n == 0)
            break;
        used += (size_t)n;
        if (used > max)
            err = HOP_EMSGSIZE;
    }
    int close_err = hop__fs_close_fd(loop, fd);
    if (err == 0)
        err = close_err;
    if (err) {
        free(buf);
        return err;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    return 0;
}

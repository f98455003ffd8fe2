/* hop/fs.h: files and directories for tasks, over libuv's uv_fs_* calls.
 *
 *     hop_file_t *file;
 *     hop_file_open(loop, "/tmp/log", O_WRONLY | O_CREAT | O_APPEND, 0644, &file);
 *     hop_file_write(file, line, line_len, HOP_FILE_CURRENT, NULL);
 *     hop_file_close(file);
 *
 *     char *text; size_t len;
 *     hop_fs_read_file(loop, "/etc/hostname", 1 << 20, &text, &len);   // free(text)
 *
 * The rules of hop/stream.h hold: any task on any executor may call these
 * (the operation starts on the given loop, the task resumes on its own
 * executor), every wait honours hop_task_cancel, deadlines and interrupts
 * from any thread, and errors come back as hop codes: HOP_ENOENT,
 * HOP_EEXIST, HOP_EACCES (EACCES and EPERM), HOP_EINVAL, HOP_EMFILE,
 * HOP_ENOMEM, HOP_ENOTSUP, HOP_ECLOSED (a bad or closed descriptor, or a
 * closed loop); anything else (ENOTDIR, ENOTEMPTY, ENOSPC, EISDIR...) is
 * HOP_EIO. Every call below may also return HOP_ENOTTASK outside a task and
 * HOP_ECANCELED / HOP_ETIMEDOUT when interrupted.
 *
 * Where the work runs. Each operation runs on libuv's own thread pool (4
 * threads unless UV_THREADPOOL_SIZE says otherwise, shared with DNS lookups),
 * started from the loop's thread: a slow disk holds those threads, never a
 * hop pool worker or the loop itself.
 *
 * Interrupts. An interrupted operation that libuv's pool has not started yet
 * is withdrawn, and the call returns HOP_ECANCELED / HOP_ETIMEDOUT having
 * done nothing. One that is already running cannot be stopped (a read may be
 * writing into the caller's buffer): the task stays suspended until it ends
 * (file operations are short) and the call returns its real result, so that
 * a rename, write or unlink that happened is never reported as not done; the
 * cancel or deadline then ends the task's next wait. The requests live on the
 * task's stack: nothing is allocated per operation, except where a call says
 * it returns memory. */
#ifndef HOP_FS_H
#define HOP_FS_H

#include "hop/common.h"
#include "hop/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_file_s hop_file_t;

/* An offset for hop_file_read / hop_file_write: the file's current
 * position (which the call then advances), as read(2) and write(2). */
#define HOP_FILE_CURRENT (-1)

/* What a path names. */
typedef enum {
    HOP_FS_UNKNOWN = 0,
    HOP_FS_FILE,    /* a regular file */
    HOP_FS_DIR,     /* a directory */
    HOP_FS_SYMLINK, /* a symbolic link (readdir only: stat follows links) */
    HOP_FS_FIFO,
    HOP_FS_SOCKET,
    HOP_FS_CHAR,  /* a character device */
    HOP_FS_BLOCK, /* a block device */
} hop_fs_type_t;

/* hop_fs_stat's and hop_file_stat's answer (hop's own, not uv_stat_t). */
typedef struct {
    hop_fs_type_t type;
    uint32_t mode; /* st_mode: type and permission bits */
    uint64_t size; /* bytes */
    uint64_t nlink, uid, gid, ino, dev;
    int64_t atime_ns; /* last access, nanoseconds since the Unix epoch */
    int64_t mtime_ns; /* last modification */
    int64_t ctime_ns; /* last status change */
} hop_fs_stat_t;

/* One directory entry of hop_fs_readdir. */
typedef struct {
    const char *name; /* the entry's name (no path), inside the hop_fs_dir_t */
    hop_fs_type_t type;
} hop_fs_dirent_t;

/* hop_fs_readdir's answer: count entries, in name order, without "." and "..". */
typedef struct {
    size_t count;
    hop_fs_dirent_t *entries;
} hop_fs_dir_t;

/* ---- open files ---------------------------------------------------------- */

/* hop_file_open: opens path with open(2)'s flags (O_RDONLY, O_WRONLY |
 * O_CREAT | O_TRUNC...; close-on-exec is added) and mode for a file it
 * creates (0: 0666; the umask applies). The file belongs to loop (NULL: the
 * loop the calling task runs on): its operations start there. Task only;
 * suspends. Returns 0 and *file (close it with hop_file_close); HOP_EINVAL
 * (NULL path or file, no loop); HOP_ENOENT; HOP_EEXIST (O_CREAT | O_EXCL);
 * HOP_EACCES; HOP_EMFILE; HOP_ENOMEM; HOP_EIO (EISDIR, ENOTDIR...);
 * HOP_ECLOSED; HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT (nothing was
 * opened). */
HOP_EXTERN int hop_file_open(hop_loop_t *loop, const char *path, int flags, int mode, hop_file_t **file);

/* hop_file_read: reads at most len bytes at offset (HOP_FILE_CURRENT: at
 * the current position) into buf. Task only; suspends. Returns the count
 * (short near the end of the file), 0 at the end; HOP_EINVAL (NULL file, or
 * NULL buf with len > 0, or an offset below HOP_FILE_CURRENT); HOP_ECLOSED
 * (closed, or not open for reading: EBADF); HOP_EIO; HOP_ENOTTASK;
 * HOP_ECANCELED / HOP_ETIMEDOUT (nothing read: see "Interrupts"). */
HOP_EXTERN int64_t hop_file_read(hop_file_t *file, void *buf, size_t len, int64_t offset);

/* hop_file_write: writes all len bytes of buf at offset (HOP_FILE_CURRENT:
 * at the current position, or at the end with O_APPEND), going on after
 * short writes. *written (if not NULL) receives the bytes written, also on
 * error. Task only; suspends. Returns 0; HOP_EINVAL (as hop_file_read);
 * HOP_ECLOSED (closed, or not open for writing); HOP_EIO (ENOSPC...);
 * HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT (*written says how many bytes
 * went before the interrupt). */
HOP_EXTERN int hop_file_write(hop_file_t *file, const void *buf, size_t len, int64_t offset, size_t *written);

/* hop_file_sync: fsync(2): waits until the file's data and metadata are on
 * the storage device. Task only; suspends. Returns 0; HOP_EINVAL; HOP_ECLOSED;
 * HOP_EIO; HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_file_sync(hop_file_t *file);

/* hop_file_stat: fstat(2) of the open file into *stat. Task only; suspends.
 * Returns 0; HOP_EINVAL (NULL argument); HOP_ECLOSED; HOP_EIO; HOP_ENOTTASK;
 * HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_file_stat(hop_file_t *file, hop_fs_stat_t *stat);

/* hop_file_close: closes the descriptor and frees the file once the last
 * call on it has returned; calls that start after close began get
 * HOP_ECLOSED. Close a file once, after its other calls have returned (a
 * descriptor closed under a running read could be reused by the next open).
 * Not interruptible (a cancelled task's close still closes). When the
 * file's loop has closed, the descriptor is closed with close(2) on the
 * calling thread instead (other calls then return HOP_ECLOSED), from any
 * thread, as the other I/O handles are then. Task only (until the loop
 * closed); suspends. Returns 0; HOP_EINVAL (NULL); HOP_EALREADY (being closed
 * already); HOP_EIO (close(2) failed: the descriptor is closed anyway);
 * HOP_ENOTTASK (nothing done). */
HOP_EXTERN int hop_file_close(hop_file_t *file);

/* hop_file_fd: the file's descriptor (for calls hop does not wrap; do not
 * close it). -1 for NULL. Any thread. */
HOP_EXTERN int hop_file_fd(const hop_file_t *file);

/* hop_file_loop: the loop the file belongs to. Any thread. NULL for NULL. */
HOP_EXTERN hop_loop_t *hop_file_loop(const hop_file_t *file);

/* ---- paths ----------------------------------------------------------------
 * loop: where the operation starts (NULL: the loop the calling task runs on;
 * HOP_EINVAL when there is none, as for a pool task). Task only; suspend. */

/* hop_fs_stat: stat(2) of path (following symbolic links) into *stat.
 * Returns 0; HOP_EINVAL; HOP_ENOENT; HOP_EACCES; HOP_EIO; HOP_ECLOSED;
 * HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_fs_stat(hop_loop_t *loop, const char *path, hop_fs_stat_t *stat);

/* hop_fs_rename: rename(2): moves from to to, replacing a file at to.
 * Returns 0; HOP_EINVAL; HOP_ENOENT; HOP_EACCES; HOP_EIO (EXDEV, EISDIR,
 * ENOTEMPTY...); HOP_ECLOSED; HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_fs_rename(hop_loop_t *loop, const char *from, const char *to);

/* hop_fs_unlink: unlink(2): removes a file (not a directory). Returns 0;
 * HOP_EINVAL; HOP_ENOENT; HOP_EACCES; HOP_EIO (EISDIR...); HOP_ECLOSED;
 * HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_fs_unlink(hop_loop_t *loop, const char *path);

/* hop_fs_mkdir: mkdir(2) with mode (0: 0777; the umask applies). Returns 0;
 * HOP_EINVAL; HOP_EEXIST; HOP_ENOENT (a parent is missing); HOP_EACCES;
 * HOP_EIO; HOP_ECLOSED; HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_fs_mkdir(hop_loop_t *loop, const char *path, int mode);

/* hop_fs_rmdir: rmdir(2): removes an empty directory. Returns 0; HOP_EINVAL;
 * HOP_ENOENT; HOP_EACCES; HOP_EIO (ENOTEMPTY, ENOTDIR...); HOP_ECLOSED;
 * HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_fs_rmdir(hop_loop_t *loop, const char *path);

/* hop_fs_readdir: the entries of directory path, in one allocation the
 * caller frees with hop_fs_dir_free. Returns 0 and *dir; HOP_EINVAL;
 * HOP_ENOENT; HOP_EACCES; HOP_EIO (ENOTDIR...); HOP_ENOMEM; HOP_ECLOSED;
 * HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT (*dir is NULL on every error). */
HOP_EXTERN int hop_fs_readdir(hop_loop_t *loop, const char *path, hop_fs_dir_t **dir);

/* hop_fs_dir_free: frees a hop_fs_readdir answer. NULL is fine. Any thread. */
HOP_EXTERN void hop_fs_dir_free(hop_fs_dir_t *dir);

/* hop_fs_read_file: reads the whole file at path into a new buffer, *data
 * (malloc'd, the caller frees it with free(); a '\0' follows the *len
 * bytes, so a text file is a C string), refusing a file longer than max
 * bytes. Several operations (open, stat, reads, close), each carried to
 * loop; the file is closed whatever happens. Returns 0; HOP_EINVAL (NULL
 * argument, no loop); HOP_EMSGSIZE (the file is longer than max: nothing is
 * returned); HOP_ENOENT; HOP_EACCES; HOP_EIO (EISDIR...); HOP_ENOMEM;
 * HOP_ECLOSED; HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT (*data is NULL
 * and *len 0 on every error). */
HOP_EXTERN int hop_fs_read_file(hop_loop_t *loop, const char *path, size_t max, char **data, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* HOP_FS_H */

/* hop/error.h: error codes.
 *
 * Every hop function that can fail returns 0 (or a count) on success and a
 * negative HOP_E* code on failure, in libuv's style. There is no "last error"
 * state: the return value is the whole story. Codes that have an errno
 * equivalent use -errno; hop's own codes sit in a private range (-4080...). */
#ifndef HOP_ERROR_H
#define HOP_ERROR_H

#include <errno.h>

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, message): the one map from which the enum, hop_strerror()
 * and hop_err_name() are generated. */
#define HOP_ERRNO_MAP(XX)                                                                    \
    XX(EINVAL, -EINVAL, "invalid argument")                                                  \
    XX(ENOMEM, -ENOMEM,                                                                      \
       "out of memory (or of memory mappings: each guarded task stack costs two, "          \
       "see vm.max_map_count and HOP_TASK_UNGUARDED_STACK)")                                \
    XX(EAGAIN, -EAGAIN, "not ready yet, try again")                                          \
    XX(EBUSY, -EBUSY, "resource busy: work is still pending")                                \
    XX(EALREADY, -EALREADY, "already completed")                                             \
    XX(ECANCELED, -ECANCELED, "operation canceled")                                          \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                   \
    XX(EINPROGRESS, -EINPROGRESS, "stopped waiting: the operation still runs without the caller") \
    XX(EDEADLK, -EDEADLK, "would deadlock")                                                  \
    XX(ENOTSUP, -ENOTSUP, "operation not supported by this object")                          \
    XX(EPERM, -EPERM, "operation not permitted: the caller does not own the object")         \
    XX(ECLOSED, -4080, "executor or object is closed")                                       \
    XX(ENOTTASK, -4081, "not called from inside a hop task")                                 \
    XX(ESTATE, -4082, "object is in the wrong state for this call")                        \
    XX(EOF, -4083, "end of stream: the peer closed its side")                                \
    XX(ENAMELOOKUP, -4084, "name lookup failed: no such host or service")                    \
    XX(EIO, -EIO, "input/output error")                                                      \
    XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                                  \
    XX(EPIPE, -EPIPE, "broken pipe: the peer no longer reads")                               \
    XX(ECONNREFUSED, -ECONNREFUSED, "connection refused: nothing listens there")             \
    XX(EADDRINUSE, -EADDRINUSE, "address already in use")                                    \
    XX(EHOSTUNREACH, -EHOSTUNREACH, "host or network unreachable")                           \
    XX(EMFILE, -EMFILE, "too many open files (descriptor limit reached)")                    \
    XX(EMSGSIZE, -EMSGSIZE, "line, message or file longer than the given maximum")           \
    XX(ENOENT, -ENOENT, "no such file or directory")                                         \
    XX(EEXIST, -EEXIST, "file exists")                                                       \
    XX(EACCES, -EACCES, "permission denied")

typedef enum {
#define HOP__ERRNO_ENUM(name, value, message) HOP_##name = (value),
    HOP_ERRNO_MAP(HOP__ERRNO_ENUM)
#undef HOP__ERRNO_ENUM
} hop_errno_t;

/* hop_strerror: a static English message for a HOP_E* code, "success" for 0,
 * "unknown error" for anything else. Any thread; never fails; the string is
 * never freed. */
HOP_EXTERN const char *hop_strerror(int error);

/* hop_err_name: the code's name ("HOP_EINVAL"), "HOP_OK" for 0 (so a log of
 * a call's result never reads like a failure when it succeeded), or
 * "HOP_UNKNOWN". Any thread. */
HOP_EXTERN const char *hop_err_name(int error);

#ifdef __cplusplus
}
#endif

#endif /* HOP_ERROR_H */

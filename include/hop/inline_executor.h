/* hop/inline_executor.h: the inline executor.
 *
 * Runs each job on the thread that submits it, before the submit returns,
 * the way C#'s synchronous continuations do. A job submitted while the same
 * thread is already running an inline job is queued and run as soon as that
 * outer job returns, so chains of continuations never grow the thread's
 * stack. A task on the inline executor therefore resumes on whichever thread
 * completes what it awaited. It never closes. */
#ifndef HOP_INLINE_EXECUTOR_H
#define HOP_INLINE_EXECUTOR_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hop_inline_executor: the process's one inline executor; never NULL, never
 * freed. Any thread. */
HOP_EXTERN hop_executor_t *hop_inline_executor(void);

#ifdef __cplusplus
}
#endif

#endif /* HOP_INLINE_EXECUTOR_H */

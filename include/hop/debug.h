/* hop/debug.h: seeing inside a running program.
 *
 * Every live task (spawned and not yet finished) is in a registry, at the
 * cost of a few plain stores per spawn (src/core/registry.c), so a program can ask
 * at any moment which tasks exist, what state each is in, what it waits on
 * and where it was spawned: asyncio's all_tasks(), Go's goroutine dump.
 *
 *     hop_task_dump(stderr, 0);
 *
 *     task 42 "conn 7" suspended on loop 0x55d0c2a3e2a0, waiting on "tcp read fd 7",
 *          parent 3, spawned at server.c:88, stack 255 KiB
 *
 * The snapshot does not stop the program: a task that runs meanwhile may
 * show the state it had a moment before, never a torn one. Awaitables name
 * what they wait for through the name in their ops table (hop/awaitable.h),
 * and the dump adds the specifics of each wait through their describe op
 * when they have one: every one of hop's is named, and described:
 *
 *     future 0x...              sleep 250 ms            mutex 0x...
 *     event 0x...               semaphore 0x...         once 0x...
 *     channel send 0x...        channel recv 0x...      group wait 0x...
 *     when_all of 3 tasks, 2 pending                    dispatch to 0x...
 *     run_in_executor on 0x...  run_blocking on 0x...
 *     tcp read fd 7             pipe write fd 9         tty read fd 0
 *     tcp accept fd 5           tcp connect port 8080   pipe connect /run/x.sock
 *     udp recv fd 6             udp send fd 6           dns getaddrinfo example.com
 *     fs open /etc/hosts        fs read fd 8            process wait pid 4242
 *     signal wait signal 10
 *
 * (hop_task_snapshot's waiting_on is the static name: the description is
 * formatted only by the dump.)
 *
 * On a signal, Go's SIGQUIT dump: hop_debug_install_dump_signal(SIGQUIT)
 * (below) makes the signal write the dump to stderr. Never the default.
 *
 * Debuggers: gdb/hop-gdb.py (installed as share/hop/gdb/hop-gdb.py) adds
 * `info hop-tasks` and `hop-bt N` to gdb. */
#ifndef HOP_DEBUG_H
#define HOP_DEBUG_H

#include <stdio.h>

#include "hop/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_task_info_s hop_task_info_t;

struct hop_task_info_s {
    hop_task_t *task;          /* for identification only: not a reference (the
                                  task may have finished since the snapshot) */
    uint64_t id;               /* hop_task_id(task) */
    char name[HOP_TASK_NAME_MAX + 1];
    hop_task_state_t state;
    hop_executor_t *executor;  /* the executor the task belongs to (identification only) */
    const char *executor_kind; /* its ops' name: "pool", "loop", "inline"... */
    const char *waiting_on;    /* the awaitable's static name while suspended
                                  ("future", "sleep", "io"...; hop_task_dump adds
                                  the specifics), "awaitable" for an unnamed
                                  one, NULL when not suspended */
    const hop_task_t *parent;  /* the task that spawned it, NULL from a plain
                                  thread (identification only) */
    uint64_t parent_id;        /* its id, 0 from a plain thread */
    const char *spawn_file;    /* where hop_task_spawn was called (__FILE__),
                                  NULL when called through a function pointer */
    int spawn_line;
    size_t stack_size;         /* usable bytes of its stack */
    void *reserved[2];
};

/* hop_task_snapshot: fills infos[0 .. capacity) with the live tasks and
 * stores their number in *count (which may exceed capacity: call again with
 * more room). Any thread, including from inside a task; never suspends; it
 * holds a short internal lock per registry shard and allocates nothing.
 * Returns 0, or HOP_EINVAL for a NULL count or NULL infos with a capacity. */
HOP_EXTERN int hop_task_snapshot(hop_task_info_t *infos, size_t capacity, size_t *count);

/* hop_task_dump: writes one line per live task to out (see the top of this
 * file), then a line with the total. Any thread; never suspends; may
 * allocate (the snapshot array). flags: 0 (reserved for options). Returns the
 * number of tasks written, or HOP_EINVAL (NULL out, unknown flags) or
 * HOP_ENOMEM. */
HOP_EXTERN int hop_task_dump(FILE *out, unsigned int flags);

/* hop_debug_install_dump_signal_fd: from now on, signal sig makes hop write
 * a task dump (hop_task_dump's lines after a "hop: task dump on signal N"
 * line) to fd, as Go does on SIGQUIT; opt-in, never installed by default.
 * How: the handler only write(2)s one byte to a pipe (async-signal-safe; it
 * keeps errno), and a thread hop starts for this ("hop-dump", which blocks
 * every signal) reads the pipe and writes the dump, as any thread may, to a
 * dup of fd. The dump shows the program a moment after the signal; signals
 * that come together make one dump. One signal at a time; the previous
 * disposition of sig is kept for hop_debug_uninstall_dump_signal. fd stays
 * the caller's: keep it open until the uninstall. Do not use sig with
 * hop_signal_open (libuv's handler would replace this one, or the other way
 * round). The pipe (two descriptors, close-on-exec) is made on the first
 * install and kept for the life of the process, so that a handler still
 * running at an uninstall never writes into a reused descriptor. In a child
 * of fork() the dump thread is gone: the signal does nothing there until an
 * uninstall restores the disposition, and a new install starts a thread.
 * Any thread, not from a signal handler; blocks to create the thread.
 * Returns 0; HOP_EINVAL (sig not a signal number, or one that cannot be
 * caught or whose handler must not return: SIGKILL, SIGSTOP, SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT; fd not an open
 * descriptor); HOP_EBUSY (a dump signal is installed already: uninstall it
 * first); HOP_EMFILE (no descriptors for the pipe); HOP_EAGAIN (no
 * thread). */
HOP_EXTERN int hop_debug_install_dump_signal_fd(int sig, int fd);

/* hop_debug_install_dump_signal: hop_debug_install_dump_signal_fd(sig,
 * STDERR_FILENO). Same threads and errors. */
HOP_EXTERN int hop_debug_install_dump_signal(int sig);

/* hop_debug_uninstall_dump_signal: restores the disposition sig had before
 * the install (its handler, SIG_DFL or SIG_IGN, with its flags and mask)
 * and stops and joins the dump thread (after a dump it is writing). Any
 * thread, not from a signal handler; blocks for the join. Returns 0 or
 * HOP_EALREADY (none installed). */
HOP_EXTERN int hop_debug_uninstall_dump_signal(void);


/* ---- Stalled-loop watchdog ------------------------------------------------
 *
 * asyncio's debug mode for C: once started, a watchdog thread looks at every
 * thread that runs hop jobs (loop threads, pool workers, blocking-pool
 * threads, any thread running an executor) and reports a job, or a slice of
 * a task between two awaits, that has run longer than threshold_ns without
 * returning, and a loop turn (from the end of one poll to the start of the
 * next: its inbox jobs and timers) that has, once per stall:
 *
 *     hop_debug_watchdog_start(NULL);   // 100 ms, reports to stderr
 *
 *     hop watchdog: task 12 "parse" has run 203 ms without suspending on loop
 *         0x55d0c2a3e2a0 (thread hop-loop), spawned at server.c:88
 *
 * Off (the default) it costs one predictable branch per job; on, two clock
 * reads and a few stores per job, written by the thread that runs it and read
 * by the watchdog thread every threshold/4. */

typedef struct hop_stall_s hop_stall_t;
typedef struct hop_watchdog_options_s hop_watchdog_options_t;

struct hop_stall_s {
    bool turn;                 /* a whole loop turn ran long (no single job did) */
    uint64_t running_ns;       /* how long it has run so far */
    hop_executor_t *executor;  /* whose job or turn it is (identification only) */
    const char *executor_kind; /* "loop", "pool"... */
    const char *thread_name;   /* the thread running it */
    void (*job_fn)(hop_job_t *job); /* the job's function; NULL for a turn */
    bool has_task;             /* the job is a task's slice: task describes it */
    hop_task_info_t task;      /* its registry entry (hop_task_snapshot's) */
};

/* Called on the watchdog thread, once per stall; must not block for long. */
typedef void (*hop_stall_fn)(const hop_stall_t *stall, void *arg);

/* A zeroed struct (or NULL) means the defaults. */
struct hop_watchdog_options_s {
    uint64_t threshold_ns; /* 0: 100 ms */
    hop_stall_fn on_stall; /* NULL: one line to stderr (hop_stall_print) */
    void *arg;             /* passed to on_stall */
};

/* hop_debug_watchdog_start: starts the watchdog thread (see above). Any
 * thread; blocks only to create the thread. Returns 0; HOP_EBUSY (already
 * started); HOP_EAGAIN (no thread); HOP_ENOMEM. */
HOP_EXTERN int hop_debug_watchdog_start(const hop_watchdog_options_t *options);

/* hop_debug_watchdog_stop: stops and joins the watchdog thread; after it
 * returns on_stall is not called any more. Any thread but the watchdog's
 * own (from on_stall: HOP_EDEADLK); blocks for the join. Returns 0 or
 * HOP_EALREADY (not started). */
HOP_EXTERN int hop_debug_watchdog_stop(void);

/* hop_stall_print: the default report, one line (two for a task) to out.
 * Any thread. Nothing is printed for a NULL out or stall. */
HOP_EXTERN void hop_stall_print(FILE *out, const hop_stall_t *stall);

#ifdef __cplusplus
}
#endif

#endif /* HOP_DEBUG_H */

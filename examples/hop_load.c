/* examples/hop_load.c: hop-load, an HTTP/1.1 load generator on hop.
 *
 *     hop-load -c 100 -t 2 -d 10s http://127.0.0.1:8080/index.html
 *     hop-load -c 100 -t 2 -d 30s -R 20000 --json http://127.0.0.1:8080/
 *
 * One task per connection, spread over -t loops (one thread each), each
 * written as straight-line code: connect, then write a request and read
 * its response, again and again over a kept-alive connection, reconnecting
 * when the server closes it. Every request runs under a deadline
 * (--timeout). When the duration is over, no new request starts; requests
 * in flight finish or time out; every connection is closed.
 *
 * Two modes, as wrk and wrk2:
 *   - as fast as possible (no -R): each connection sends its next request
 *     as soon as the response came; latency is measured from the send.
 *   - constant rate (-R requests/s): each connection has a pacer sending
 *     rate/connections requests per second on a fixed schedule, and latency
 *     is measured from each request's intended send time. A server that
 *     stalls then shows every request the stall delayed, not just the few
 *     in flight: measuring from the actual send would let the load generator
 *     coordinate with the server (it stops sending while the server stalls)
 *     and omit exactly the slow samples ("coordinated omission").
 *
 * Latencies go into a hop_histogram_t per loop (hop/histogram.h), written
 * only by that loop's thread, so no lock is taken; they are merged at the
 * end. Counters are per loop as well, written by the loop's thread alone
 * and read once a second by the main thread for the progress line.
 *
 * The pacer stays here, not in the library: it is a start time plus a
 * count times an interval, tied to this program's stop rule.
 *
 * Exit status: 0 after a run (errors are reported, not fatal); 1 when the
 * run could not start (host not found, no memory); 2 for bad arguments. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasecmp, strncasecmp, sigaction, getaddrinfo */
#endif
#include <hop/hop.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define LOAD_MAX_HEADERS 64
#define LOAD_LINE_MAX 8192     /* longest status or header line */
#define LOAD_READ_BUFFER 16384 /* each connection's read-ahead */
#define LOAD_MAX_SECONDS 86400 /* per-thread requests/s samples kept: one a second */
/* The loops' default busy-poll window. A loop that sleeps in epoll as soon
 * as it has sent its requests makes the server pay a cross-CPU wake-up for
 * each response that finds it asleep; on the 2-vCPU VMs of bench/RESULTS.md
 * that cost nginx about a fifth of its throughput. 20 to 100 us measured
 * the same there; this is the middle. */
#define LOAD_BUSY_POLL_US 50
/* The loops' default nap between two busy polls that found nothing. Polling
 * back to back keeps the thread on its CPU for the whole run, so its CPU per
 * request only follows its speed; napping, it waits on no socket, so the
 * server's writes still wake nobody, and the next poll reads what came as a
 * batch. On those VMs against nginx: the same requests/s, 30% less CPU per
 * request; 5 to 100 us measured alike (each nap is lengthened by the
 * kernel's 50 us timer slack). */
#define LOAD_BUSY_POLL_NAP_US 20

enum { LOAD_ERR_CONNECT, LOAD_ERR_READ, LOAD_ERR_WRITE, LOAD_ERR_TIMEOUT, LOAD_ERR_KINDS };
static const char *const load_err_names[LOAD_ERR_KINDS] = {"connect", "read", "write", "timeout"};

typedef struct {
    char url[1024];
    char host[256];
    int port;
    char path[1024];
    int connections, threads;
    uint64_t duration_ns, timeout_ns;
    double rate;        /* requests/s in all; 0: as fast as possible */
    const char *method; /* "GET" by default */
    const char *body;   /* NULL: none */
    const char *headers[LOAD_MAX_HEADERS];
    int header_count;
    int busy_poll_us;     /* the loops' busy_poll_us (hop_loop_options_t) */
    int busy_poll_nap_us; /* and their busy_poll_nap_us */
    bool json, quiet;
} load_config_t;

/* One loop's share. Written by its loop's thread only (single writer: the
 * tasks on a loop executor never leave its thread), read by the main thread
 * for progress: relaxed atomic loads and stores, no read-modify-write. */
typedef struct {
    _Alignas(64) hop_loop_t loop;
    hop_histogram_t *latency; /* ns; only after the loop's tasks are done may others read it */
    uint64_t sent, completed, bytes, non2xx, errors[LOAD_ERR_KINDS];
    uint64_t missed; /* constant rate: due before the end, never sent (the connection was behind) */
    uint64_t last_completed; /* the main thread's own, for per-second rates */
} load_loop_t;

typedef struct load_run_s load_run_t;

typedef struct {
    load_run_t *run;
    load_loop_t *lp;
    uint64_t next_ns;     /* constant rate: the next request's intended send time */
    uint64_t interval_ns; /* constant rate: between two of this connection's requests */
} load_conn_t;

struct load_run_s {
    const load_config_t *cfg;
    struct sockaddr_storage addr;
    char *request;
    size_t request_len;
    bool head; /* responses to HEAD have no body */
    uint64_t start_ns;
    uint64_t end_ns; /* atomic: moved earlier by a stop */
    load_loop_t *loops;
    load_conn_t *conns;
};

typedef struct {
    uint64_t sent, completed, bytes, non2xx, errors[LOAD_ERR_KINDS];
    uint64_t missed; /* constant rate: requests due in the run that were never sent */
    double elapsed_s;
    hop_histogram_t *latency;                        /* ns, merged over the loops; the caller destroys it */
    double rps_mean, rps_stdev, rps_max, rps_within; /* per thread, sampled each second */
} load_result_t;

static void load_add(uint64_t *counter, uint64_t n) {
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t load_get(const uint64_t *counter) { return __atomic_load_n(counter, __ATOMIC_RELAXED); }

/* ---- arguments ---- */

static int load_usage_error(FILE *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hop-load: ", err);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputs("\nTry 'hop-load --help'.\n", err);
    return 2;
}

static const char load_usage_text[] =
    "Usage: hop-load <options> <url>\n"
    "  -c, --connections <N>  connections to keep open (default 10)\n"
    "  -t, --threads <N>      loops, one thread each (default 2)\n"
    "  -d, --duration <T>     test duration: 10s, 2m, 500ms (default 10s)\n"
    "  -R, --rate <N>         constant rate in requests/s, latency from each request's\n"
    "                         intended send time (default: as fast as possible)\n"
    "  -H, --header <H>       add a header, \"Name: value\" (repeatable)\n"
    "  -m, --method <M>       request method (default GET)\n"
    "  -b, --body <S>         request body (sent with Content-Length)\n"
    "  -T, --timeout <T>      per-request timeout (default 2s)\n"
    "      --busy-poll <us>   after a burst of responses, poll the sockets this many\n"
    "                         microseconds before sleeping (default 50; 0: sleep at once)\n"
    "      --busy-poll-nap <us>\n"
    "                         between two busy polls that found nothing, sleep this many\n"
    "                         microseconds (default 20; 0: poll back to back)\n"
    "      --json             print the summary as JSON\n"
    "  -q, --quiet            no progress lines on stderr\n"
    "      --latency          accepted for wrk's sake (the distribution is always printed)\n"
    "  url: http://host[:port][/path]\n";

/* "10", "10s", "500ms", "2m", "1h", "250us" into ns; false when malformed. */
static bool load_parse_duration(const char *s, uint64_t *ns) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0))
        return false;
    double unit = 1e9;
    if (*end == '\0' || strcmp(end, "s") == 0)
        unit = 1e9;
    else if (strcmp(end, "ms") == 0)
        unit = 1e6;
    else if (strcmp(end, "us") == 0)
        unit = 1e3;
    else if (strcmp(end, "m") == 0)
        unit = 60e9;
    else if (strcmp(end, "h") == 0)
        unit = 3600e9;
    else
        return false;
    double total = v * unit;
    if (total < 1e6 || total > 1e16) /* 1 ms to about 4 months */
        return false;
    *ns = (uint64_t)total;
    return true;
}

/* "100", "10k", "1.5M" into a positive count; false when malformed. */
static bool load_parse_count(const char *s, double max, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0))
        return false;
    if (*end == 'k' || *end == 'K')
        v *= 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1e6, end++;
    if (*end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static int load_parse_url(load_config_t *cfg, const char *url, FILE *err) {
    if (strlen(url) >= sizeof cfg->url)
        return load_usage_error(err, "URL too long");
    snprintf(cfg->url, sizeof cfg->url, "%s", url);
    if (strncasecmp(url, "https://", 8) == 0)
        return load_usage_error(err, "https is not supported: %s", url);
    if (strncasecmp(url, "http://", 7) != 0)
        return load_usage_error(err, "the URL must start with http://: %s", url);
    const char *p = url + 7, *host_end, *after;
    if (*p == '[') { /* [v6 address] */
        host_end = strchr(p, ']');
        if (!host_end)
            return load_usage_error(err, "bad IPv6 address in %s", url);
        p++;
        after = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        after = host_end;
    }
    size_t host_len = (size_t)(host_end - p);
    if (host_len == 0 || host_len >= sizeof cfg->host)
        return load_usage_error(err, "no host (or too long a host) in %s", url);
    memcpy(cfg->host, p, host_len);
    cfg->host[host_len] = '\0';
    cfg->port = 80;
    if (*after == ':') {
        char *end;
        long port = strtol(after + 1, &end, 10);
        if (end == after + 1 || port < 1 || port > 65535 || (*end && *end != '/' && *end != '?'))
            return load_usage_error(err, "bad port in %s", url);
        cfg->port = (int)port;
        after = end;
    } else if (*after && *after != '/' && *after != '?') {
        return load_usage_error(err, "bad URL %s", url);
    }
    const char *path = *after ? after : "/";
    if (*path == '?') {
        if (strlen(path) + 2 > sizeof cfg->path)
            return load_usage_error(err, "path too long in %s", url);
        snprintf(cfg->path, sizeof cfg->path, "/%s", path);
    } else {
        if (strlen(path) + 1 > sizeof cfg->path)
            return load_usage_error(err, "path too long in %s", url);
        snprintf(cfg->path, sizeof cfg->path, "%s", path);
    }
    if (strpbrk(cfg->path, " \r\n#"))
        return load_usage_error(err, "the path may not hold spaces, line breaks or '#': %s", url);
    return 0;
}

/* Parses argv into *cfg. Returns 0; 2 after printing why to err; -1 for
 * --help (the usage went to out). */
static int load_parse_args(int argc, char **argv, load_config_t *cfg, FILE *out, FILE *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->connections = 10;
    cfg->threads = 2;
    cfg->duration_ns = 10000000000ull;
    cfg->timeout_ns = 2000000000ull;
    cfg->method = "GET";
    cfg->busy_poll_us = LOAD_BUSY_POLL_US;
    cfg->busy_poll_nap_us = LOAD_BUSY_POLL_NAP_US;
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        if (arg[0] != '-' || arg[1] == '\0') {
            if (url)
                return load_usage_error(err, "more than one URL: %s and %s", url, arg);
            url = arg;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(load_usage_text, out);
            return -1;
        }
        if (strcmp(arg, "--json") == 0) {
            cfg->json = true;
            continue;
        }
        if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            cfg->quiet = true;
            continue;
        }
        if (strcmp(arg, "--latency") == 0)
            continue;
        /* Options with a value: "-c 10", "-c10", "--connections 10", "--connections=10". */
        static const struct {
            char short_name;
            const char *long_name;
        } with_value[] = {{'c', "connections"}, {'t', "threads"},       {'d', "duration"}, {'R', "rate"},
                          {'H', "header"},      {'m', "method"},        {'b', "body"},     {'T', "timeout"},
                          {'\1', "busy-poll"},  {'\2', "busy-poll-nap"}}; /* long only: no short name */
        char which = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0] && !which; k++) {
            size_t n = strlen(with_value[k].long_name);
            if (arg[1] == with_value[k].short_name) {
                which = with_value[k].short_name;
                value = arg[2] ? arg + 2 : NULL;
            } else if (arg[1] == '-' && strncmp(arg + 2, with_value[k].long_name, n) == 0 &&
                       (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
                which = with_value[k].short_name;
                value = arg[2 + n] == '=' ? arg + 3 + n : NULL;
            }
        }
        if (!which)
            return load_usage_error(err, "unknown option %s", arg);
        if (!value) {
            if (i + 1 >= argc)
                return load_usage_error(err, "%s needs a value", arg);
            value = argv[++i];
        }
        double v;
        switch (which) {
        case 'c':
            if (!load_parse_count(value, 1e6, &v) || v != (double)(int)v)
                return load_usage_error(err, "bad connection count '%s' (a whole number, 1 to 1M)", value);
            cfg->connections = (int)v;
            break;
        case 't':
            if (!load_parse_count(value, 1024, &v) || v != (double)(int)v)
                return load_usage_error(err, "bad thread count '%s' (a whole number, 1 to 1024)", value);
            cfg->threads = (int)v;
            break;
        case 'd':
            if (!load_parse_duration(value, &cfg->duration_ns))
                return load_usage_error(err, "bad duration '%s' (like 10s, 500ms, 2m)", value);
            break;
        case 'T':
            if (!load_parse_duration(value, &cfg->timeout_ns))
                return load_usage_error(err, "bad timeout '%s' (like 2s, 500ms)", value);
            break;
        case 'R':
            if (!load_parse_count(value, 1e9, &v))
                return load_usage_error(err, "bad rate '%s' (requests/s, more than 0)", value);
            cfg->rate = v;
            break;
        case 'H':
            if (!strchr(value, ':') || value[0] == ':' || strpbrk(value, "\r\n"))
                return load_usage_error(err, "bad header '%s' (expected \"Name: value\")", value);
            if (cfg->header_count == LOAD_MAX_HEADERS)
                return load_usage_error(err, "more than %d headers", LOAD_MAX_HEADERS);
            cfg->headers[cfg->header_count++] = value;
            break;
        case 'm':
            if (!*value || strpbrk(value, " \t\r\n"))
                return load_usage_error(err, "bad method '%s'", value);
            cfg->method = value;
            break;
        case 'b':
            cfg->body = value;
            break;
        case '\1':
        case '\2': {
            char *end;
            long us = strtol(value, &end, 10);
            if (end == value || *end || us < 0 || us > 1000000)
                return load_usage_error(err, "bad %s time '%s' (microseconds, 0 to 1000000)",
                                        which == '\1' ? "busy-poll" : "busy-poll-nap", value);
            *(which == '\1' ? &cfg->busy_poll_us : &cfg->busy_poll_nap_us) = (int)us;
            break;
        }
        }
    }
    if (!url)
        return load_usage_error(err, "no URL given");
    if (cfg->threads > cfg->connections)
        return load_usage_error(err, "%d threads for %d connections: each thread needs a connection",
                                cfg->threads, cfg->connections);
    return load_parse_url(cfg, url, err);
}

/* ---- the request and the response ---- */

static int load_build_request(load_run_t *run) {
    const load_config_t *cfg = run->cfg;
    bool has_host = false;
    size_t size = strlen(cfg->method) + strlen(cfg->path) + strlen(cfg->host) + 128;
    for (int i = 0; i < cfg->header_count; i++) {
        size += strlen(cfg->headers[i]) + 2;
        has_host |= strncasecmp(cfg->headers[i], "host:", 5) == 0;
    }
    size_t body_len = cfg->body ? strlen(cfg->body) : 0;
    size += body_len;
    char *r = malloc(size);
    if (!r)
        return HOP_ENOMEM;
    size_t n = (size_t)snprintf(r, size, "%s %s HTTP/1.1\r\n", cfg->method, cfg->path);
    if (!has_host) {
        bool v6 = strchr(cfg->host, ':') != NULL;
        n += (size_t)snprintf(r + n, size - n, "Host: %s%s%s", v6 ? "[" : "", cfg->host, v6 ? "]" : "");
        n += (size_t)(cfg->port == 80 ? snprintf(r + n, size - n, "\r\n")
                                      : snprintf(r + n, size - n, ":%d\r\n", cfg->port));
    }
    for (int i = 0; i < cfg->header_count; i++)
        n += (size_t)snprintf(r + n, size - n, "%s\r\n", cfg->headers[i]);
    if (cfg->body)
        n += (size_t)snprintf(r + n, size - n, "Content-Length: %zu\r\n", body_len);
    n += (size_t)snprintf(r + n, size - n, "\r\n");
    memcpy(r + n, cfg->body ? cfg->body : "", body_len);
    run->request = r;
    run->request_len = n + body_len;
    run->head = strcmp(cfg->method, "HEAD") == 0;
    return 0;
}

typedef struct {
    int status;
    bool keep_alive;
    uint64_t bytes;
} load_response_t;

/* Reads and drops len bytes of body. */
static int load_discard(hop_stream_t *s, uint64_t len, load_response_t *r) {
    char scratch[LOAD_READ_BUFFER];
    while (len > 0) {
        int64_t n = hop_stream_read(s, scratch, len < sizeof scratch ? (size_t)len : sizeof scratch);
        if (n <= 0)
            return n == 0 ? HOP_EOF : (int)n;
        len -= (uint64_t)n;
        r->bytes += (uint64_t)n;
    }
    return 0;
}

/* Reads one line into line (NUL-terminated, CRLF or LF stripped). */
static int64_t load_read_line(hop_stream_t *s, char *line, load_response_t *r) {
    int64_t n = hop_stream_read_line(s, line, LOAD_LINE_MAX - 1);
    if (n < 0)
        return n == HOP_EMSGSIZE ? HOP_EIO : n;
    r->bytes += (uint64_t)n;
    line[n] = '\0';
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return n;
}

/* Reads one HTTP/1.x response: the status line, the headers, and a body
 * framed by Content-Length, chunked transfer coding, or the end of the
 * connection. Returns 0 and *r; HOP_EIO for a malformed response; HOP_EOF
 * when the connection ended early; the stream's errors (HOP_ETIMEDOUT under
 * the request's deadline). */
static int load_read_response(hop_stream_t *s, bool head, load_response_t *r) {
    char line[LOAD_LINE_MAX];
    memset(r, 0, sizeof *r);
    for (;;) {
        int64_t n = load_read_line(s, line, r);
        if (n < 0)
            return (int)n;
        /* "HTTP/1.x NNN reason": by hand, sscanf costs more than the rest of the parse. */
        if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
            line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
            line[11] > '9' || (line[12] != ' ' && line[12] != '\0'))
            return HOP_EIO;
        int minor = line[7] - '0', status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        r->status = status;
        r->keep_alive = minor >= 1;
        uint64_t content_length = UINT64_MAX;
        bool chunked = false;
        for (;;) {
            n = load_read_line(s, line, r);
            if (n < 0)
                return (int)n;
            if (n == 0)
                break;
            /* Only three headers matter, and they start with c or t: skip
             * the others (Date, Server, ETag...) without looking further. */
            char first = (char)(line[0] | 0x20);
            if (first != 'c' && first != 't')
                continue;
            char *colon = strchr(line, ':');
            if (!colon)
                return HOP_EIO;
            *colon = '\0';
            char *value = colon + 1;
            value += strspn(value, " \t");
            if (strcasecmp(line, "content-length") == 0) {
                char *end;
                content_length = strtoull(value, &end, 10);
                if (end == value)
                    return HOP_EIO;
            } else if (strcasecmp(line, "transfer-encoding") == 0) {
                chunked = strcasestr(value, "chunked") != NULL;
            } else if (strcasecmp(line, "connection") == 0) {
                if (strcasestr(value, "close"))
                    r->keep_alive = false;
                else if (strcasestr(value, "keep-alive"))
                    r->keep_alive = true;
            }
        }
        if (status >= 100 && status < 200 && status != 101)
            continue; /* an interim response (100 Continue): the real one follows */
        if (head || status == 204 || status == 304 || status == 101)
            return 0;
        if (chunked) {
            for (;;) {
                n = load_read_line(s, line, r);
                if (n < 0)
                    return (int)n;
                char *end;
                uint64_t size = strtoull(line, &end, 16);
                if (end == line)
                    return HOP_EIO;
                if (size == 0)
                    break;
                int err = load_discard(s, size, r);
                if (err)
                    return err;
                n = load_read_line(s, line, r); /* the CRLF after the chunk */
                if (n != 0)
                    return n < 0 ? (int)n : HOP_EIO;
            }
            do { /* trailers, up to the empty line */
                n = load_read_line(s, line, r);
                if (n < 0)
                    return (int)n;
            } while (n > 0);
            return 0;
        }
        if (content_length != UINT64_MAX)
            return load_discard(s, content_length, r);
        /* No length: the body runs to the end of the connection. */
        r->keep_alive = false;
        char scratch[LOAD_READ_BUFFER];
        for (;;) {
            int64_t got = hop_stream_read(s, scratch, sizeof scratch);
            if (got == 0)
                return 0;
            if (got < 0)
                return (int)got;
            r->bytes += (uint64_t)got;
        }
    }
}

/* ---- the connections ---- */

static uint64_t load_end(load_run_t *run) { return __atomic_load_n(&run->end_ns, __ATOMIC_RELAXED); }

/* Sleeps until at_ns in steps of at most 100 ms, so that a stop (which
 * moves the end earlier) is seen soon. Returns false when the end came
 * first. A loop's timers have millisecond resolution and fire late rather
 * than early, so whole milliseconds are slept rounded down, and the last
 * fraction of one is waited out by yielding: every microsecond a request
 * leaves after its intended time is charged to the server's latency. */
static bool load_sleep_until(load_run_t *run, uint64_t at_ns) {
    for (;;) {
        uint64_t now = hop_time_now_ns();
        if (now >= load_end(run))
            return false;
        if (now >= at_ns)
            return true;
        uint64_t wait_ms = (at_ns - now) / 1000000;
        if (hop_sleep(wait_ms > 100 ? 100 : (int64_t)wait_ms) != 0)
            return false;
    }
}

static void *load_conn_main(void *arg) {
    load_conn_t *c = arg;
    load_run_t *run = c->run;
    load_loop_t *lp = c->lp;
    const load_config_t *cfg = run->cfg;
    int64_t timeout_ms = (int64_t)((cfg->timeout_ns + 999999) / 1000000);
    hop_stream_options_t options = {.read_buffer = LOAD_READ_BUFFER};
    hop_stream_t *s = NULL;
    for (;;) {
        if (hop_time_now_ns() >= load_end(run))
            break;
        if (!s) {
            hop_deadline_t deadline;
            hop_deadline_enter(&deadline, timeout_ms);
            int err = hop_tcp_connect_addr(&lp->loop, (const struct sockaddr *)&run->addr, &options, &s);
            hop_deadline_leave(&deadline);
            if (err) {
                s = NULL;
                load_add(&lp->errors[err == HOP_ETIMEDOUT ? LOAD_ERR_TIMEOUT : LOAD_ERR_CONNECT], 1);
                /* With a rate, the request whose turn it was is not sent;
                 * without, retry every 10 ms rather than spin against a
                 * server that refuses. */
                uint64_t retry = cfg->rate ? c->next_ns : hop_time_now_ns() + 10000000;
                if (!load_sleep_until(run, retry))
                    break;
                c->next_ns += c->interval_ns;
                continue;
            }
            hop_tcp_set_nodelay(s, true);
        }
        uint64_t intended = 0;
        if (cfg->rate) {
            intended = c->next_ns;
            if (intended >= load_end(run) || !load_sleep_until(run, intended))
                break;
            c->next_ns += c->interval_ns;
        }
        hop_deadline_t deadline;
        hop_deadline_enter(&deadline, timeout_ms);
        uint64_t sent_at = hop_time_now_ns();
        int err = hop_stream_write(s, run->request, run->request_len, NULL);
        int kind = LOAD_ERR_WRITE;
        load_response_t response;
        if (!err) {
            load_add(&lp->sent, 1);
            kind = LOAD_ERR_READ;
            err = load_read_response(s, run->head, &response);
        }
        if (hop_deadline_leave(&deadline) == HOP_ETIMEDOUT && err)
            err = HOP_ETIMEDOUT;
        if (err) {
            load_add(&lp->errors[err == HOP_ETIMEDOUT ? LOAD_ERR_TIMEOUT : kind], 1);
            hop_stream_close(s);
            s = NULL;
            continue;
        }
        uint64_t done = hop_time_now_ns();
        uint64_t from = cfg->rate ? intended : sent_at;
        hop_histogram_record(lp->latency, done > from ? done - from : 0);
        load_add(&lp->completed, 1);
        load_add(&lp->bytes, response.bytes);
        if (response.status < 200 || response.status > 299)
            load_add(&lp->non2xx, 1);
        if (!response.keep_alive) {
            hop_stream_close(s);
            s = NULL;
        }
    }
    /* Requests this connection was due to send before the end but could not,
     * still waiting for earlier answers: counted, so that a slow server or a
     * busy machine shows as missed requests rather than as a lower rate. */
    uint64_t end = load_end(run);
    if (cfg->rate && c->next_ns < end)
        load_add(&lp->missed, (end - c->next_ns + c->interval_ns - 1) / c->interval_ns);
    if (s)
        hop_stream_close(s);
    return NULL;
}

/* ---- the run ---- */

/* Set by main's SIGINT handler: the run stops early and still reports. */
static volatile sig_atomic_t load_interrupted;

static void load_sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

static void load_totals(const load_run_t *run, int threads, load_result_t *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < threads; i++) {
        const load_loop_t *lp = &run->loops[i];
        t->sent += load_get(&lp->sent);
        t->missed += load_get(&lp->missed);
        t->completed += load_get(&lp->completed);
        t->bytes += load_get(&lp->bytes);
        t->non2xx += load_get(&lp->non2xx);
        for (int k = 0; k < LOAD_ERR_KINDS; k++)
            t->errors[k] += load_get(&lp->errors[k]);
    }
}

static uint64_t load_error_sum(const load_result_t *r) {
    uint64_t n = 0;
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        n += r->errors[k];
    return n;
}

/* Runs the load described by cfg. progress (may be NULL) gets a line a
 * second. Returns 0 and *result (destroy result->latency); 1 after printing
 * why to err. */
static int load_run(const load_config_t *cfg, load_result_t *result, FILE *progress, FILE *err) {
    memset(result, 0, sizeof *result);
    load_run_t run = {.cfg = cfg};
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        fprintf(err, "hop-load: cannot resolve %s: %s\n", cfg->host, gai_strerror(gai));
        return 1;
    }
    memcpy(&run.addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (load_build_request(&run) != 0) {
        fprintf(err, "hop-load: out of memory\n");
        return 1;
    }
    int threads = cfg->threads, conns = cfg->connections;
    run.loops = aligned_alloc(64, sizeof(load_loop_t) * (size_t)threads);
    run.conns = calloc((size_t)conns, sizeof *run.conns);
    hop_task_t **tasks = calloc((size_t)conns, sizeof *tasks);
    double *samples = calloc((size_t)threads * 64, sizeof *samples);
    size_t sample_count = 0, sample_cap = (size_t)threads * 64;
    int status = 1;
    if (!run.loops || !run.conns || !tasks || !samples) {
        fprintf(err, "hop-load: out of memory\n");
        free(run.loops);
        run.loops = NULL;
        goto out;
    }
    memset(run.loops, 0, sizeof(load_loop_t) * (size_t)threads);
    int started = 0;
    for (; started < threads; started++) {
        load_loop_t *lp = &run.loops[started];
        char name[16];
        snprintf(name, sizeof name, "hop-load-%u", (unsigned int)started % 10000u);
        /* No inbox spin: these loops wait for sockets, never for offloaded
         * work. They busy-poll the sockets instead (LOAD_BUSY_POLL_US). */
        hop_loop_options_t loop_options = {.name = name,
                                           .spin_us = HOP_SPIN_NEVER,
                                           .busy_poll_us = cfg->busy_poll_us,
                                           .busy_poll_nap_us = cfg->busy_poll_nap_us};
        int e = hop_histogram_create(NULL, &lp->latency);
        if (!e && (e = hop_loop_init(&lp->loop, &loop_options)) != 0)
            hop_histogram_destroy(lp->latency);
        if (!e && (e = hop_loop_start(&lp->loop)) != 0) {
            hop_loop_close(&lp->loop);
            hop_histogram_destroy(lp->latency);
        }
        if (e) {
            fprintf(err, "hop-load: cannot start loop %d: %s\n", started, hop_strerror(e));
            goto close_loops;
        }
    }
    run.start_ns = hop_time_now_ns();
    run.end_ns = run.start_ns + cfg->duration_ns;
    double interval = cfg->rate ? (double)conns / cfg->rate * 1e9 : 0;
    for (int i = 0; i < conns; i++) {
        load_conn_t *c = &run.conns[i];
        c->run = &run;
        c->lp = &run.loops[i % threads];
        c->interval_ns = (uint64_t)interval;
        /* Stagger the connections over one interval: a steady rate, not
         * bursts of one request per connection. */
        c->next_ns = run.start_ns + (uint64_t)(interval * i / conns);
        int e = hop_task_spawn(hop_loop_executor(&c->lp->loop), load_conn_main, c, NULL, &tasks[i]);
        if (e) {
            fprintf(err, "hop-load: cannot start connection %d: %s\n", i, hop_strerror(e));
            __atomic_store_n(&run.end_ns, run.start_ns, __ATOMIC_RELAXED);
            break;
        }
    }
    /* Progress, once a second, until the end (or a stop). */
    uint64_t tick = run.start_ns + 1000000000u;
    load_result_t last = {0};
    for (;;) {
        uint64_t now = hop_time_now_ns(), end = load_end(&run);
        if (load_interrupted && end > now) {
            __atomic_store_n(&run.end_ns, now, __ATOMIC_RELAXED);
            end = now;
        }
        if (now >= end)
            break;
        if (now >= tick) {
            load_result_t t;
            load_totals(&run, threads, &t);
            if (progress)
                fprintf(progress, "  %3.0fs  %10llu requests  %8llu errors  %10.0f req/s\n",
                        (double)(now - run.start_ns) / 1e9, (unsigned long long)t.completed,
                        (unsigned long long)load_error_sum(&t), (double)(t.completed - last.completed));
            last = t;
            for (int i = 0; i < threads; i++) {
                uint64_t done = load_get(&run.loops[i].completed);
                if (sample_count == sample_cap && sample_cap < (size_t)threads * LOAD_MAX_SECONDS) {
                    double *grown = realloc(samples, 2 * sample_cap * sizeof *samples);
                    if (grown)
                        samples = grown, sample_cap *= 2;
                }
                if (sample_count < sample_cap)
                    samples[sample_count++] = (double)(done - run.loops[i].last_completed);
                run.loops[i].last_completed = done;
            }
            tick += 1000000000u;
        }
        uint64_t next = tick < end ? tick : end;
        load_sleep_ns(next - now < 50000000u ? next - now : 50000000u);
    }
    for (int i = 0; i < conns; i++) {
        if (tasks[i]) {
            hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL);
            hop_task_unref(tasks[i]);
        }
    }
    uint64_t finished = hop_time_now_ns();
    load_totals(&run, threads, result);
    result->elapsed_s = (double)(finished - run.start_ns) / 1e9;
    if (hop_histogram_create(NULL, &result->latency) != 0) {
        fprintf(err, "hop-load: out of memory\n");
        goto close_loops;
    }
    for (int i = 0; i < threads; i++)
        hop_histogram_merge(result->latency, run.loops[i].latency);
    if (sample_count == 0) { /* shorter than a second: one sample per thread for the whole run */
        for (int i = 0; i < threads && sample_count < sample_cap; i++)
            samples[sample_count++] = (double)load_get(&run.loops[i].completed) / result->elapsed_s;
    }
    double sum = 0, squares = 0, max = 0;
    for (size_t i = 0; i < sample_count; i++) {
        sum += samples[i];
        squares += samples[i] * samples[i];
        max = samples[i] > max ? samples[i] : max;
    }
    result->rps_mean = sample_count ? sum / (double)sample_count : 0;
    double variance = sample_count ? squares / (double)sample_count - result->rps_mean * result->rps_mean : 0;
    result->rps_stdev = 0;
    if (variance > 0) { /* Newton's root, from above: examples link no libm */
        double r = variance > 1 ? variance : 1;
        for (int i = 0; i < 200; i++) {
            double next = 0.5 * (r + variance / r);
            if (!(next < r))
                break;
            r = next;
        }
        result->rps_stdev = r;
    }
    result->rps_max = max;
    size_t within = 0;
    for (size_t i = 0; i < sample_count; i++)
        within += samples[i] >= result->rps_mean - result->rps_stdev &&
                  samples[i] <= result->rps_mean + result->rps_stdev;
    result->rps_within = sample_count ? 100.0 * (double)within / (double)sample_count : 0;
    status = 0;
close_loops:
    for (int i = 0; i < started; i++) {
        hop_loop_close(&run.loops[i].loop);
        hop_histogram_destroy(run.loops[i].latency);
    }
out:
    free(run.loops);
    free(run.conns);
    free(tasks);
    free(samples);
    free(run.request);
    return status;
}

/* ---- the summary ---- */

/* ns as wrk prints times: "635.91us", "12.92ms", "1.02s". */
static const char *load_format_ns(char *buf, size_t size, double ns) {
    if (ns < 1e6)
        snprintf(buf, size, "%.2fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, size, "%.2fms", ns / 1e6);
    else if (ns < 60e9)
        snprintf(buf, size, "%.2fs", ns / 1e9);
    else
        snprintf(buf, size, "%.2fm", ns / 60e9);
    return buf;
}

static const char *load_format_count(char *buf, size_t size, double v) {
    if (v < 1e3)
        snprintf(buf, size, "%.2f", v);
    else if (v < 1e6)
        snprintf(buf, size, "%.2fk", v / 1e3);
    else
        snprintf(buf, size, "%.2fM", v / 1e6);
    return buf;
}

static const char *load_format_bytes(char *buf, size_t size, double v) {
    if (v < 1024)
        snprintf(buf, size, "%.2fB", v);
    else if (v < 1024 * 1024)
        snprintf(buf, size, "%.2fKB", v / 1024);
    else if (v < 1024.0 * 1024 * 1024)
        snprintf(buf, size, "%.2fMB", v / (1024 * 1024));
    else
        snprintf(buf, size, "%.2fGB", v / (1024.0 * 1024 * 1024));
    return buf;
}

static const double load_percentiles[] = {50, 75, 90, 99, 99.9, 100};

static void load_print_text(const load_config_t *cfg, const load_result_t *r, FILE *out) {
    char a[32], b[32], c[32], d[32];
    const hop_histogram_t *h = r->latency;
    double mean = hop_histogram_mean(h), sd = hop_histogram_stddev(h);
    uint64_t low = mean > sd ? (uint64_t)(mean - sd) : 0;
    double within = hop_histogram_count(h)
                        ? 100.0 * (double)hop_histogram_count_between(h, low, (uint64_t)(mean + sd)) /
                              (double)hop_histogram_count(h)
                        : 0;
    fprintf(out, "Running %s test @ %s\n", load_format_ns(a, sizeof a, (double)cfg->duration_ns), cfg->url);
    fprintf(out, "  %d threads and %d connections\n", cfg->threads, cfg->connections);
    if (cfg->rate)
        fprintf(out, "  constant rate %.0f requests/s: latency from each request's intended send time\n",
                cfg->rate);
    fprintf(out, "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n");
    fprintf(out, "    Latency   %8s  %8s  %8s  %8.2f%%\n", load_format_ns(a, sizeof a, mean),
            load_format_ns(b, sizeof b, sd), load_format_ns(c, sizeof c, (double)hop_histogram_max(h)),
            within);
    fprintf(out, "    Req/Sec   %8s  %8s  %8s  %8.2f%%\n", load_format_count(a, sizeof a, r->rps_mean),
            load_format_count(b, sizeof b, r->rps_stdev), load_format_count(c, sizeof c, r->rps_max),
            r->rps_within);
    fprintf(out, "  Latency Distribution\n");
    for (size_t i = 0; i < sizeof load_percentiles / sizeof load_percentiles[0]; i++) {
        snprintf(d, sizeof d, "%g%%", load_percentiles[i]);
        fprintf(out, "  %7s  %8s\n", d,
                load_format_ns(a, sizeof a, (double)hop_histogram_percentile(h, load_percentiles[i])));
    }
    fprintf(out, "  %llu requests in %s, %s read\n", (unsigned long long)r->completed,
            load_format_ns(a, sizeof a, r->elapsed_s * 1e9),
            load_format_bytes(b, sizeof b, (double)r->bytes));
    if (load_error_sum(r))
        fprintf(out, "  Socket errors: connect %llu, read %llu, write %llu, timeout %llu\n",
                (unsigned long long)r->errors[LOAD_ERR_CONNECT], (unsigned long long)r->errors[LOAD_ERR_READ],
                (unsigned long long)r->errors[LOAD_ERR_WRITE],
                (unsigned long long)r->errors[LOAD_ERR_TIMEOUT]);
    if (r->non2xx)
        fprintf(out, "  Non-2xx responses: %llu\n", (unsigned long long)r->non2xx);
    if (r->missed)
        fprintf(out, "  Missed: %llu requests were due before the end but never sent (connections behind)\n",
                (unsigned long long)r->missed);
    fprintf(out, "Requests/sec: %10.2f\n", (double)r->completed / r->elapsed_s);
    fprintf(out, "Transfer/sec: %10s\n", load_format_bytes(a, sizeof a, (double)r->bytes / r->elapsed_s));
}

static void load_print_json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void load_print_json(const load_config_t *cfg, const load_result_t *r, FILE *out) {
    const hop_histogram_t *h = r->latency;
    fprintf(out, "{\"url\": ");
    load_print_json_string(out, cfg->url);
    fprintf(out,
            ", \"connections\": %d, \"threads\": %d, \"duration_s\": %.3f, \"rate\": %.3f, "
            "\"latency_from\": \"%s\", \"elapsed_s\": %.6f, \"sent\": %llu, \"missed\": %llu, \"requests\": %llu, "
            "\"bytes\": %llu, \"requests_per_s\": %.2f, \"non2xx\": %llu, \"errors\": {",
            cfg->connections, cfg->threads, (double)cfg->duration_ns / 1e9, cfg->rate,
            cfg->rate ? "intended_send" : "send", r->elapsed_s, (unsigned long long)r->sent,
            (unsigned long long)r->missed,
            (unsigned long long)r->completed, (unsigned long long)r->bytes,
            r->elapsed_s > 0 ? (double)r->completed / r->elapsed_s : 0, (unsigned long long)r->non2xx);
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        fprintf(out, "%s\"%s\": %llu", k ? ", " : "", load_err_names[k], (unsigned long long)r->errors[k]);
    fprintf(out, "}, \"latency_us\": {\"min\": %.3f, \"mean\": %.3f, \"stdev\": %.3f",
            (double)hop_histogram_min(h) / 1e3, hop_histogram_mean(h) / 1e3, hop_histogram_stddev(h) / 1e3);
    static const char *const names[] = {"p50", "p75", "p90", "p99", "p99_9", "max"};
    for (size_t i = 0; i < sizeof load_percentiles / sizeof load_percentiles[0]; i++)
        fprintf(out, ", \"%s\": %.3f", names[i],
                (double)hop_histogram_percentile(h, load_percentiles[i]) / 1e3);
    fprintf(out, "}, \"req_per_s_per_thread\": {\"mean\": %.2f, \"stdev\": %.2f, \"max\": %.2f}}\n",
            r->rps_mean, r->rps_stdev, r->rps_max);
}

static int hop_load_main(int argc, char **argv, FILE *out, FILE *err) {
    load_config_t cfg;
    int status = load_parse_args(argc, argv, &cfg, out, err);
    if (status)
        return status < 0 ? 0 : status;
    load_result_t result;
    status = load_run(&cfg, &result, cfg.quiet ? NULL : err, err);
    if (status)
        return status;
    if (cfg.json)
        load_print_json(&cfg, &result, out);
    else
        load_print_text(&cfg, &result, out);
    hop_histogram_destroy(result.latency);
    return 0;
}

#ifndef HOP_LOAD_NO_MAIN
static void load_on_sigint(int sig) {
    (void)sig;
    load_interrupted = 1;
}

int main(int argc, char **argv) {
    struct sigaction sa = {0};
    sa.sa_handler = load_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    return hop_load_main(argc, argv, stdout, stderr);
}
#endif

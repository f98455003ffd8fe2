/* examples/http_parse.h: the HTTP/1.1 request parser and the work function
 * shared by examples/http_server.c (hop) and bench/peers/uv_http.c (plain
 * libuv), so that comparing the two compares only the runtimes.
 *
 * The parser is strict and small: a request line "METHOD SP target SP
 * HTTP/1.x CRLF", header lines "name: value CRLF" (no folding, no bare LF),
 * an empty line, and a body only as Content-Length (Transfer-Encoding is
 * refused). It never reads past len and never allocates. */
#ifndef HOP_EXAMPLES_HTTP_PARSE_H
#define HOP_EXAMPLES_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The longest request head (request line and headers) accepted: longer is
 * answered with 431. */
#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_BODY (1024 * 1024)

enum {
    HTTP_INCOMPLETE = 0, /* need more bytes */
    HTTP_OK = 1,         /* a complete head in buf[0, head_len) */
    HTTP_BAD = 400,      /* malformed: answer 400 and close */
    HTTP_TOO_LARGE = 431 /* head over HTTP_MAX_HEAD: answer 431 and close */
};

typedef struct {
    char method[16];
    char target[512];
    int minor;             /* HTTP/1.<minor> */
    bool keep_alive;       /* the connection may serve another request */
    size_t content_length; /* body bytes after the head */
    size_t head_len;       /* bytes of the head, the blank line included */
} http_request_t;

static inline bool http_is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Parses the head at the start of buf[0, len). Returns HTTP_OK (and *req),
 * HTTP_INCOMPLETE, HTTP_BAD or HTTP_TOO_LARGE. */
static inline int http_parse_request(const char *buf, size_t len, http_request_t *req) {
    memset(req, 0, sizeof *req);
    /* The end of the head: CRLF CRLF. A bare LF anywhere is malformed. */
    size_t end = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            return HTTP_BAD;
        if (buf[i] == '\n' && i >= 3 && buf[i - 2] == '\n') {
            end = i + 1;
            break;
        }
        if (i + 1 >= HTTP_MAX_HEAD)
            return HTTP_TOO_LARGE;
    }
    if (end == 0)
        return len >= HTTP_MAX_HEAD ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
    req->head_len = end;

    /* Request line. */
    const char *p = buf, *stop = buf + end;
    size_t n = 0;
    while (p < stop && http_is_tchar((unsigned char)*p)) {
        if (n + 1 >= sizeof req->method)
            return HTTP_BAD;
        req->method[n++] = *p++;
    }
    if (n == 0 || p >= stop || *p++ != ' ')
        return HTTP_BAD;
    n = 0;
    while (p < stop && (unsigned char)*p > ' ' && *p != 0x7f) {
        if (n + 1 >= sizeof req->target)
            return HTTP_BAD;
        req->target[n++] = *p++;
    }
    if (n == 0 || p >= stop || *p++ != ' ')
        return HTTP_BAD;
    if (stop - p < 10 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != '\r')
        return HTTP_BAD;
    req->minor = p[7] - '0';
    p += 10;
    bool keep_alive = req->minor == 1, have_length = false;

    /* Header lines, up to the blank one. */
    while (!(p[0] == '\r' && p[1] == '\n')) {
        const char *name = p;
        while (p < stop && http_is_tchar((unsigned char)*p))
            p++;
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || *p != ':')
            return HTTP_BAD; /* also a folded line, starting with a space */
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *value = p;
        while (*p != '\r') {
            if ((unsigned char)*p < ' ' && *p != '\t')
                return HTTP_BAD;
            p++;
        }
        const char *value_end = p;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        size_t value_len = (size_t)(value_end - value);
        p += 2; /* CRLF: checked above */
        if (name_len == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
            if (value_len == 0)
                return HTTP_BAD;
            size_t length = 0;
            for (const char *v = value; v < value_end; v++) {
                if (*v < '0' || *v > '9' || length > HTTP_MAX_BODY)
                    return HTTP_BAD;
                length = length * 10 + (size_t)(*v - '0');
            }
            if (length > HTTP_MAX_BODY || (have_length && length != req->content_length))
                return HTTP_BAD;
            req->content_length = length;
            have_length = true;
        } else if (name_len == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
            return HTTP_BAD; /* chunked bodies are not supported */
        } else if (name_len == 10 && strncasecmp(name, "Connection", 10) == 0) {
            if (value_len == 5 && strncasecmp(value, "close", 5) == 0)
                keep_alive = false;
            else if (value_len == 10 && strncasecmp(value, "keep-alive", 10) == 0)
                keep_alive = true;
        }
    }
    req->keep_alive = keep_alive;
    return HTTP_OK;
}

/* Formats a response head into out (at least 256 bytes); returns its length. */
static inline size_t http_format_head(char *out, size_t cap, int status, size_t content_length, bool close) {
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 408 ? "Request Timeout"
                         : status == 431 ? "Request Header Fields Too Large"
                         : status == 503 ? "Service Unavailable"
                                         : "Error";
    int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n%s\r\n",
                     status, reason, content_length, close ? "Connection: close\r\n" : "");
    return n < 0 ? 0 : (size_t)n;
}

/* ---- the work: a blocking call ------------------------------------------- */

typedef struct {
    unsigned int sleep_us; /* 1000: 1 ms */
    size_t hash_bytes;     /* 16384: 16 KiB */
} http_work_config_t;

/* FNV-1a, 64 bits, over a buffer derived from seed: a stand-in for a real
 * hash (SHA-256 costs a few times more per byte). */
static inline uint64_t http_hash(uint64_t seed, size_t bytes) {
    uint64_t h = 0xcbf29ce484222325u ^ seed;
    uint64_t x = seed | 1;
    for (size_t i = 0; i < bytes; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for (int b = 0; b < 8; b++) {
            h ^= (x >> (8 * b)) & 0xff;
            h *= 0x100000001b3u;
        }
    }
    return h;
}

/* The blocking call every request makes: sleeps, then hashes; returns the
 * hash (the response body is its hex). */
static inline uint64_t http_work(const http_work_config_t *config, uint64_t seed) {
    if (config->sleep_us) {
        struct timespec ts = {(time_t)(config->sleep_us / 1000000u),
                              (long)(config->sleep_us % 1000000u) * 1000L};
        nanosleep(&ts, NULL);
    }
    return http_hash(seed, config->hash_bytes);
}

#endif /* HOP_EXAMPLES_HTTP_PARSE_H */

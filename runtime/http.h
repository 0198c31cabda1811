/* http.h - a tiny HTTP/1.x server on the job's libev loop (GET only). */
#ifndef EDDY_HTTP_H
#define EDDY_HTTP_H

#include <stddef.h>

#include "buf.h"

struct ev_loop;
typedef struct eddy_http eddy_http;

/* Limits: a request (line and headers) is at most EDDY_HTTP_MAX_HEAD
 * bytes; a client has EDDY_HTTP_TIMEOUT_MS from connect to answer; at
 * most EDDY_HTTP_MAX_CLIENTS are served at once. */
#define EDDY_HTTP_MAX_HEAD 8192
#define EDDY_HTTP_MAX_TARGET 1024
#define EDDY_HTTP_MAX_CLIENTS 32
#define EDDY_HTTP_TIMEOUT_MS 5000

/* A parsed request line (headers are checked, not kept). */
typedef struct eddy_http_req {
    char method[16];
    char path[EDDY_HTTP_MAX_TARGET + 1]; /* without the query string */
} eddy_http_req;

/* Parses the request head in buf[0..len): returns its length (through the
 * blank line) when complete, 0 when more bytes are needed, or -status for
 * a request to reject (400 malformed, 413 with a body, 414 target too
 * long, 431 head too large, 505 not HTTP/1.x). */
int eddy_http_parse(const char *buf, size_t len, eddy_http_req *req);

/* Parses "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (host: 127.0.0.1).
 * 0, or -1 with err. */
int eddy_http_parse_addr(const char *s, char *host, size_t hostlen, int *port,
                         char *err, size_t errlen);

/* Answers one request: fills body and *ctype and returns the status. */
typedef int (*eddy_http_handler)(void *ud, const eddy_http_req *req,
                                 eddy_buf *body, const char **ctype);

/* Listens on addr (see eddy_http_parse_addr; port 0 picks a free one) and
 * serves on loop. The server keeps nothing of the loop alive by itself.
 * NULL with err. */
eddy_http *eddy_http_start(struct ev_loop *loop, const char *addr,
                           eddy_http_handler h, void *ud, char *err,
                           size_t errlen);
/* The port listened on, and the requests rejected so far (4xx/5xx from the
 * server itself: malformed, oversized, timed out, over the client cap). */
int eddy_http_port(const eddy_http *s);
unsigned long long eddy_http_rejected(const eddy_http *s);
/* Closes every client and the listening socket. */
void eddy_http_free(eddy_http *s);

#endif

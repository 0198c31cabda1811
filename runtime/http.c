/* http.c - a tiny HTTP/1.x server for /metrics and /health.
 *
 * One request per connection, answered with "Connection: close". Every
 * socket is non-blocking and every client lives on the job's loop: a
 * client reads its request head into a fixed buffer (EDDY_HTTP_MAX_HEAD),
 * the head is parsed and answered at once (the handler renders into a
 * buffer), the answer is written as the socket accepts it, then the
 * client's leftover input is drained until EOF so the peer sees the answer
 * and not a reset. Invariant: nothing here ever blocks the loop or keeps it
 * alive (all watchers are unreferenced); each client has one deadline from
 * connect to close, so a client that sends nothing (or a byte at a time)
 * is dropped after EDDY_HTTP_TIMEOUT_MS; at most EDDY_HTTP_MAX_CLIENTS are
 * served at once, more get 503. The server owns its clients; a client owns
 * its socket and buffers. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPTS_PER_CALLBACK 16
#define LINGER_BYTES (64 * 1024) /* leftover input drained after answering */

enum { C_READ, C_WRITE, C_LINGER };

typedef struct client {
    struct eddy_http *srv;
    ev_io io;
    ev_timer deadline;
    int state;
    size_t inlen, sent, drained;
    eddy_buf out;
    struct client *prev, *next;
    char in[EDDY_HTTP_MAX_HEAD];
} client;

struct eddy_http {
    struct ev_loop *loop;
    int fd, port, nclients;
    ev_io accept_io;
    eddy_http_handler handler;
    void *ud;
    client *clients;
    unsigned long long rejected;
};

/* ---- request parsing ---------------------------------------------------- */

/* The next line at *off (without CR LF): 1, or 0 when it is incomplete. */
static int next_line(const char *buf, size_t len, size_t *off,
                     const char **line, size_t *n) {
    const char *nl = memchr(buf + *off, '\n', len - *off);
    if (nl == NULL) return 0;
    *line = buf + *off;
    *n = (size_t)(nl - *line);
    if (*n > 0 && (*line)[*n - 1] == '\r') (*n)--;
    *off = (size_t)(nl - buf) + 1;
    return 1;
}

static int is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "METHOD /target HTTP/1.x": 0, or -status. */
static int parse_request_line(const char *l, size_t n, eddy_http_req *req) {
    size_t i = 0, m = 0;
    while (i < n && l[i] >= 'A' && l[i] <= 'Z') i++;
    if (i == 0 || i >= sizeof req->method || i >= n || l[i] != ' ') return -400;
    memcpy(req->method, l, i);
    req->method[i] = '\0';
    size_t t = ++i;
    while (i < n && (unsigned char)l[i] > 0x20 && (unsigned char)l[i] < 0x7f)
        i++;
    if (i == t || l[t] != '/' || i >= n || l[i] != ' ') return -400;
    if (i - t > EDDY_HTTP_MAX_TARGET) return -414;
    while (t + m < i && l[t + m] != '?') m++;
    memcpy(req->path, l + t, m);
    req->path[m] = '\0';
    const char *v = l + i + 1;
    size_t vn = n - i - 1;
    if (vn == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1'))
        return 0;
    if (vn == 8 && memcmp(v, "HTTP/", 5) == 0 && v[6] == '.' && v[5] >= '0' &&
        v[5] <= '9' && v[7] >= '0' && v[7] <= '9')
        return -505;
    return -400;
}

/* One "Name: value" line: 0, or -status (a body is refused with 413). */
static int parse_header(const char *l, size_t n) {
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)l[i])) i++;
    if (i == 0 || i >= n || l[i] != ':') return -400;
    for (size_t j = i + 1; j < n; j++) {
        unsigned char c = (unsigned char)l[j];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return -400;
    }
    if (i == 17 && strncasecmp(l, "Transfer-Encoding", i) == 0) return -413;
    if (i == 14 && strncasecmp(l, "Content-Length", i) == 0) {
        size_t j = i + 1, digits = 0, nonzero = 0;
        while (j < n && (l[j] == ' ' || l[j] == '\t')) j++;
        for (; j < n && l[j] >= '0' && l[j] <= '9'; j++, digits++)
            nonzero |= l[j] != '0';
        while (j < n && (l[j] == ' ' || l[j] == '\t')) j++;
        if (digits == 0 || j != n) return -400;
        if (nonzero) return -413;
    }
    return 0;
}

/* The request line is not there yet: reject what cannot become one. */
static int parse_partial_line(const char *buf, size_t len) {
    size_t i = 0;
    while (i < len && buf[i] >= 'A' && buf[i] <= 'Z') i++;
    if (i < len && (buf[i] != ' ' || i == 0)) return -400;
    if (len > EDDY_HTTP_MAX_TARGET + 32) return -414;
    return 0;
}

int eddy_http_parse(const char *buf, size_t len, eddy_http_req *req) {
    size_t off = 0, n;
    const char *l;
    if (!next_line(buf, len, &off, &l, &n)) return parse_partial_line(buf, len);
    int rc = parse_request_line(l, n, req);
    if (rc != 0) return rc;
    for (int headers = 0;; headers++) {
        if (!next_line(buf, len, &off, &l, &n))
            return len >= EDDY_HTTP_MAX_HEAD ? -431 : 0;
        if (n == 0) return (int)off;
        if (headers >= 100) return -431;
        if (l[0] == ' ' || l[0] == '\t') return -400; /* obsolete folding */
        if ((rc = parse_header(l, n)) != 0) return rc;
    }
}

int eddy_http_parse_addr(const char *s, char *host, size_t hostlen, int *port,
                         char *err, size_t errlen) {
    const char *p = strrchr(s, ':'), *h = s;
    size_t hn = p ? (size_t)(p - s) : 0;
    if (p == NULL) p = s - 1; /* "PORT" alone */
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') h++, hn -= 2;
    char *end;
    long v = strtol(p + 1, &end, 10);
    if (p[1] == '\0' || *end != '\0' || v < 0 || v > 65535 || hn >= hostlen ||
        (hn > 0 && memchr(h, ':', hn) && s[0] != '[')) {
        snprintf(err, errlen,
                 "--metrics %s: expected HOST:PORT (e.g. "
                 "127.0.0.1:9100)",
                 s);
        return -1;
    }
    if (hn > 0)
        snprintf(host, hostlen, "%.*s", (int)hn, h);
    else
        snprintf(host, hostlen, "127.0.0.1");
    *port = (int)v;
    return 0;
}

/* ---- clients ------------------------------------------------------------- */

static const char *reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

/* Watchers are unreferenced while active, so re-reference before stop. */
static void io_set(client *c, int events) {
    struct ev_loop *loop = c->srv->loop;
    if (ev_is_active(&c->io)) {
        ev_ref(loop);
        ev_io_stop(loop, &c->io);
    }
    if (events == 0) return;
    ev_io_set(&c->io, c->io.fd, events);
    ev_io_start(loop, &c->io);
    ev_unref(loop);
}

static void client_close(client *c) {
    eddy_http *s = c->srv;
    io_set(c, 0);
    if (ev_is_active(&c->deadline)) {
        ev_ref(s->loop);
        ev_timer_stop(s->loop, &c->deadline);
    }
    close(c->io.fd);
    eddy_buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nclients--;
    free(c);
}

/* Reads and drops what the client still sends, until it closes. */
static void client_linger(client *c) {
    char junk[4096];
    for (;;) {
        ssize_t n = read(c->io.fd, junk, sizeof junk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        c->drained += n > 0 ? (size_t)n : 0;
        if (n <= 0 || c->drained > LINGER_BYTES) break;
    }
    client_close(c);
}

/* Writes what the socket takes; once all is out, lingers. */
static void client_write(client *c) {
    while (c->sent < c->out.len) {
        ssize_t n = send(c->io.fd, c->out.data + c->sent, c->out.len - c->sent,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            if (!(c->io.events & EV_WRITE) || !ev_is_active(&c->io))
                io_set(c, EV_WRITE); /* the rest when the socket takes it */
            c->state = C_WRITE;
            return;
        }
        if (n <= 0) {
            client_close(c);
            return;
        }
        c->sent += (size_t)n;
    }
    shutdown(c->io.fd, SHUT_WR);
    c->state = C_LINGER;
    io_set(c, EV_READ);
    client_linger(c);
}

/* Starts the answer: status line, headers, body (none for HEAD). */
static void respond(client *c, int status, const char *ctype,
                    const eddy_buf *body, int head_only) {
    eddy_buf *o = &c->out;
    size_t blen = body ? body->len : 0;
    eddy_buf_addf(o,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n"
                  "Cache-Control: no-store\r\n%s\r\n",
                  status, reason(status), ctype, blen,
                  status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (body && !head_only) eddy_buf_add(o, body->data, body->len);
    client_write(c);
}

static void respond_error(client *c, int status) {
    eddy_buf body;
    eddy_buf_init(&body);
    eddy_buf_addf(&body, "%d %s\n", status, reason(status));
    respond(c, status, "text/plain; charset=utf-8", &body, 0);
    eddy_buf_free(&body);
}

/* A complete request: GET and HEAD go to the handler. */
static void dispatch(client *c, const eddy_http_req *req) {
    int head = strcmp(req->method, "HEAD") == 0;
    if (!head && strcmp(req->method, "GET") != 0) {
        respond_error(c, 405);
        return;
    }
    eddy_buf body;
    eddy_buf_init(&body);
    const char *ctype = "text/plain; charset=utf-8";
    int status = c->srv->handler(c->srv->ud, req, &body, &ctype);
    respond(c, status, ctype, &body, head);
    eddy_buf_free(&body);
}

static void client_read(client *c) {
    ssize_t n;
    do n = read(c->io.fd, c->in + c->inlen, sizeof c->in - c->inlen);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { /* gone before asking anything */
        client_close(c);
        return;
    }
    c->inlen += (size_t)n;
    eddy_http_req req;
    int rc = eddy_http_parse(c->in, c->inlen, &req);
    if (rc == 0 && c->inlen == sizeof c->in) rc = -431;
    if (rc == 0) return;
    io_set(c, 0);
    c->state = C_WRITE;
    if (rc < 0) c->srv->rejected++;
    if (rc < 0)
        respond_error(c, -rc);
    else
        dispatch(c, &req);
}

static void client_cb(struct ev_loop *loop, ev_io *w, int revents) {
    client *c = w->data;
    if (c->state == C_READ)
        client_read(c);
    else if (c->state == C_WRITE)
        client_write(c);
    else
        client_linger(c);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    client *c = w->data;
    ev_ref(loop); /* the expired timer stopped: balance its ev_unref */
    if (c->state == C_READ) { /* too slow to ask: 408, best effort */
        static const char msg[] = "HTTP/1.1 408 Request Timeout\r\n"
                                  "Content-Length: 0\r\nConnection: close"
                                  "\r\n\r\n";
        ssize_t n =
            send(c->io.fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
        c->srv->rejected++;
    }
    client_close(c);
}

static void client_new(eddy_http *s, int fd) {
    client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->srv = s;
    eddy_buf_init(&c->out);
    ev_io_init(&c->io, client_cb, fd, EV_READ);
    ev_timer_init(&c->deadline, deadline_cb, EDDY_HTTP_TIMEOUT_MS / 1000.0,
                  0.0);
    c->io.data = c->deadline.data = c;
    c->next = s->clients;
    if (c->next) c->next->prev = c;
    s->clients = c;
    s->nclients++;
    ev_io_start(s->loop, &c->io);
    ev_unref(s->loop);
    ev_timer_start(s->loop, &c->deadline);
    ev_unref(s->loop);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
    eddy_http *s = w->data;
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n"
                               "\r\n";
    for (int i = 0; i < ACCEPTS_PER_CALLBACK; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (s->nclients >= EDDY_HTTP_MAX_CLIENTS) {
            ssize_t n = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
            (void)n;
            s->rejected++;
            close(fd);
            continue;
        }
        client_new(s, fd);
    }
}

/* ---- the server ---------------------------------------------------------- */

static int listen_on(eddy_http *s, const char *host, int port, char *err,
                     size_t errlen) {
    struct addrinfo hints = {0}, *ai = NULL;
    char ps[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "--metrics %s: %s", host, gai_strerror(rc));
        return -1;
    }
    s->fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->fd >= 0)
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->fd < 0 || bind(s->fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(s->fd, 64) != 0) {
        snprintf(err, errlen, "--metrics: cannot listen on %s:%d: %s", host,
                 port, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    s->port = port;
    if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

eddy_http *eddy_http_start(struct ev_loop *loop, const char *addr,
                           eddy_http_handler h, void *ud, char *err,
                           size_t errlen) {
    char host[256];
    int port;
    if (eddy_http_parse_addr(addr, host, sizeof host, &port, err, errlen) != 0)
        return NULL;
    eddy_http *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->fd = -1;
    s->handler = h;
    s->ud = ud;
    if (listen_on(s, host, port, err, errlen) != 0) {
        eddy_http_free(s);
        return NULL;
    }
    ev_io_init(&s->accept_io, accept_cb, s->fd, EV_READ);
    s->accept_io.data = s;
    ev_io_start(loop, &s->accept_io);
    ev_unref(loop);
    return s;
}

int eddy_http_port(const eddy_http *s) {
    return s->port;
}

unsigned long long eddy_http_rejected(const eddy_http *s) {
    return s->rejected;
}

void eddy_http_free(eddy_http *s) {
    if (s == NULL) return;
    while (s->clients) client_close(s->clients);
    if (ev_is_active(&s->accept_io)) {
        ev_ref(s->loop);
        ev_io_stop(s->loop, &s->accept_io);
    }
    if (s->fd >= 0) close(s->fd);
    free(s);
}

/* source_tcp.c - a TCP listener taking newline-delimited events.
 *
 * Listens on host:port (loopback unless told otherwise) and accepts any
 * number of clients; each client has its own line splitter and reads one
 * bounded chunk per callback. A client's last line is delivered when it
 * disconnects. Positions are byte offsets within the client's stream.
 * The source is unbounded: it ends only when the job stops. The listener
 * owns its clients; a client owns its socket and splitter. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lines.h"
#include "log.h"
#include "source.h"

#define CHUNK (64 * 1024)

typedef struct tcp_client {
    struct tcp_src *owner;
    ev_io io;
    eddy_lines *lines;
    struct tcp_client *next;
} tcp_client;

typedef struct tcp_src {
    eddy_source *src;
    struct ev_loop *loop;
    char *host;
    int port, fd;
    ev_io accept_io;
    tcp_client *clients;
} tcp_src;

static void client_close(tcp_client *c) {
    tcp_src *t = c->owner;
    ev_io_stop(t->loop, &c->io);
    close(c->io.fd);
    eddy_lines_free(c->lines);
    for (tcp_client **p = &t->clients; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    free(c);
}

static void client_deliver(tcp_client *c) {
    eddy_source_drain(c->owner->src, c->lines);
}

static void client_cb(struct ev_loop *loop, ev_io *w, int revents) {
    tcp_client *c = w->data;
    size_t room;
    char *p = eddy_lines_space(c->lines, &room);
    if (p == NULL) {
        client_close(c);
        return;
    }
    if (room > CHUNK) room = CHUNK;
    ssize_t n = read(w->fd, p, room);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) {
        eddy_lines_commit(c->lines, (size_t)n);
        client_deliver(c);
        return;
    }
    eddy_lines_finish(c->lines); /* EOF or error: last line, then close */
    client_deliver(c);
    client_close(c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
    tcp_src *t = w->data;
    int fd = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    tcp_client *c = calloc(1, sizeof *c);
    if (c == NULL ||
        !(c->lines = eddy_lines_new(eddy_source_max_line(t->src), CHUNK))) {
        free(c);
        close(fd);
        return;
    }
    c->owner = t;
    c->next = t->clients;
    t->clients = c;
    ev_io_init(&c->io, client_cb, fd, EV_READ);
    c->io.data = c;
    ev_io_start(loop, &c->io);
}

static int tcp_listen(tcp_src *t, char *err, size_t errlen) {
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof port, "%d", t->port);
    int rc = getaddrinfo(t->host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "source %s: %s: %s", eddy_source_name(t->src),
                 t->host, gai_strerror(rc));
        return -1;
    }
    t->fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (t->fd >= 0)
        setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (t->fd < 0 || bind(t->fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(t->fd, 128) != 0) {
        snprintf(err, errlen, "source %s: cannot listen on %s:%d: %s",
                 eddy_source_name(t->src), t->host, t->port, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(t->fd, (struct sockaddr *)&ss, &sl) == 0)
        t->port = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

static int tcp_start(void *impl, char *err, size_t errlen) {
    tcp_src *t = impl;
    t->loop = eddy_job_loop(eddy_source_job(t->src));
    if (tcp_listen(t, err, errlen) != 0) return -1;
    ev_io_init(&t->accept_io, accept_cb, t->fd, EV_READ);
    t->accept_io.data = t;
    ev_io_start(t->loop, &t->accept_io);
    eddy_info("source %s: listening on %s:%d", eddy_source_name(t->src),
              t->host, t->port);
    return 0;
}

static void tcp_stop(void *impl) {
    tcp_src *t = impl;
    if (t->loop == NULL) return;
    ev_io_stop(t->loop, &t->accept_io);
    while (t->clients) client_close(t->clients);
}

static void tcp_free(void *impl) {
    tcp_src *t = impl;
    tcp_stop(t);
    if (t->fd >= 0) close(t->fd);
    free(t->host);
    free(t);
}

/* TCP cannot replay: its position is not checkpointed. */
static const eddy_source_ops tcp_ops = {tcp_start, tcp_stop, tcp_free, NULL,
                                        NULL};

int eddy_source_tcp_init(eddy_source *s, lua_State *L, int desc, char *err,
                         size_t errlen) {
    tcp_src *t = calloc(1, sizeof *t);
    if (t == NULL) return -1;
    t->src = s;
    t->fd = -1;
    lua_getfield(L, desc, "host");
    lua_getfield(L, desc, "port");
    /* stack: host port */
    t->host = strdup(lua_isstring(L, -2) ? lua_tostring(L, -2) : "127.0.0.1");
    t->port = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
    lua_pop(L, 2);
    if (t->port < 0 || t->port > 65535) {
        snprintf(err, errlen, "source %s: tcp needs a port (0-65535)",
                 eddy_source_name(s));
        free(t->host);
        free(t);
        return -1;
    }
    eddy_source_attach(s, &tcp_ops, t);
    return 0;
}

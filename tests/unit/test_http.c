/* Unit tests for the HTTP request parser and --metrics addresses (http.c).
 */
#define FZ_NO_MAIN
#include "../../fuzz/fuzz_http.c"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http.h"
#include "tap.h"

static int parse(const char *s, eddy_http_req *req) {
    return eddy_http_parse(s, strlen(s), req);
}

static void test_good(void) {
    eddy_http_req r;
    const char *s = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
    TAP_OK(parse(s, &r) == (int)strlen(s), "a complete GET: head length");
    TAP_STREQ(r.method, "GET", "method");
    TAP_STREQ(r.path, "/metrics", "path");
    TAP_OK(parse("GET /health?x=1 HTTP/1.0\n\n", &r) == 26,
           "bare LF line ends, HTTP/1.0");
    TAP_STREQ(r.path, "/health", "the query string is dropped");
    s = "HEAD / HTTP/1.1\r\nContent-Length: 0\r\n\r\nextra";
    TAP_OK(parse(s, &r) == (int)strlen(s) - 5,
           "bytes after the head are "
           "not part of it; Content-Length 0 is fine");
    TAP_STREQ(r.method, "HEAD", "HEAD");
    TAP_OK(parse("POST /metrics HTTP/1.1\r\n\r\n", &r) > 0 &&
               strcmp(r.method, "POST") == 0,
           "other methods parse (the server answers 405)");
}

static void test_incomplete(void) {
    eddy_http_req r;
    TAP_OK(parse("", &r) == 0, "nothing yet: more");
    TAP_OK(parse("GE", &r) == 0, "a method prefix: more");
    TAP_OK(parse("GET /metr", &r) == 0, "half a request line: more");
    TAP_OK(parse("GET / HTTP/1.1\r\nHost: x\r\n", &r) == 0,
           "headers without the blank line: more");
    TAP_OK(parse("GET / HTTP/1.1\r\nHo", &r) == 0, "half a header: more");
}

static void test_bad(void) {
    eddy_http_req r;
    TAP_OK(parse("get / HTTP/1.1\r\n\r\n", &r) == -400, "lowercase method");
    TAP_OK(parse("\x16\x03\x01\x02", &r) == -400,
           "a TLS hello is rejected at once");
    TAP_OK(parse("hello\n", &r) == -400, "garbage line");
    TAP_OK(parse("GET metrics HTTP/1.1\r\n\r\n", &r) == -400,
           "a target not starting with /");
    TAP_OK(parse("GET /\r\n\r\n", &r) == -400, "HTTP/0.9 style");
    TAP_OK(parse("GET / HTTP/2.0\r\n\r\n", &r) == -505, "HTTP/2.0: 505");
    TAP_OK(parse("GET / HTTP/1.1 x\r\n\r\n", &r) == -400, "junk after version");
    TAP_OK(parse("GET /a b HTTP/1.1\r\n\r\n", &r) == -400, "space in target");
    TAP_OK(parse("GET / HTTP/1.1\r\nNo colon\r\n\r\n", &r) == -400,
           "a header without a colon");
    TAP_OK(parse("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", &r) == -400,
           "a space in a header name");
    TAP_OK(parse("GET / HTTP/1.1\r\nA: x\r\n folded\r\n\r\n", &r) == -400,
           "obsolete line folding");
    TAP_OK(parse("GET / HTTP/1.1\r\nA: x\x01y\r\n\r\n", &r) == -400,
           "a control character in a value");
    TAP_OK(parse("GET / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &r) == -413,
           "a body: 413");
    TAP_OK(parse("GET / HTTP/1.1\r\ncontent-length: x\r\n\r\n", &r) == -400,
           "a bad Content-Length");
    TAP_OK(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r) ==
               -413,
           "a chunked body: 413");
}

static void test_limits(void) {
    eddy_http_req r;
    size_t n = EDDY_HTTP_MAX_TARGET + 100;
    char *s = malloc(n + 64);
    strcpy(s, "GET /");
    memset(s + 5, 'a', n);
    strcpy(s + 5 + n, " HTTP/1.1\r\n\r\n");
    TAP_OK(parse(s, &r) == -414, "a target over the limit: 414");
    s[5 + n] = '\0';
    TAP_OK(parse(s, &r) == -414, "and before its line ends");
    free(s);
    s = malloc(EDDY_HTTP_MAX_HEAD + 1);
    strcpy(s, "GET / HTTP/1.1\r\n");
    size_t o = strlen(s);
    while (o + 12 < EDDY_HTTP_MAX_HEAD)
        memcpy(s + o, "X-Pad: yyy\r\n", 12), o += 12;
    memset(s + o, 'z', EDDY_HTTP_MAX_HEAD - o);
    TAP_OK(eddy_http_parse(s, EDDY_HTTP_MAX_HEAD, &r) == -431,
           "a head filling the buffer without its end: 431");
    free(s);
    char many[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 120; i++) strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    TAP_OK(parse(many, &r) == -431, "more than 100 headers: 431");
}

static void test_addr(void) {
    char host[64], err[256];
    int port = -1;
    TAP_OK(eddy_http_parse_addr("127.0.0.1:9100", host, sizeof host, &port, err,
                                sizeof err) == 0 &&
               strcmp(host, "127.0.0.1") == 0 && port == 9100,
           "HOST:PORT");
    TAP_OK(eddy_http_parse_addr("9100", host, sizeof host, &port, err,
                                sizeof err) == 0 &&
               strcmp(host, "127.0.0.1") == 0 && port == 9100,
           "PORT alone: loopback");
    TAP_OK(eddy_http_parse_addr(":0", host, sizeof host, &port, err,
                                sizeof err) == 0 &&
               strcmp(host, "127.0.0.1") == 0 && port == 0,
           ":PORT: loopback, port 0");
    TAP_OK(eddy_http_parse_addr("[::1]:80", host, sizeof host, &port, err,
                                sizeof err) == 0 &&
               strcmp(host, "::1") == 0 && port == 80,
           "[IPv6]:PORT");
    TAP_OK(eddy_http_parse_addr("0.0.0.0:8080", host, sizeof host, &port, err,
                                sizeof err) == 0 &&
               strcmp(host, "0.0.0.0") == 0,
           "all interfaces when asked");
    const char *bad[] = {"",       "host:", "host:x", "host:70000",
                         "::1:80", "h:-1",  NULL};
    for (int i = 0; bad[i]; i++)
        TAP_OK(eddy_http_parse_addr(bad[i], host, sizeof host, &port, err,
                                    sizeof err) == -1 &&
                   strstr(err, "HOST:PORT") != NULL,
               "bad address \"%s\" is refused", bad[i]);
}

/* Runs one input through the fuzzer's checks: 1 held, 0 violated. */
static int check_one(const char *buf, size_t n) {
    static jmp_buf jb;
    fz_jmp = &jb;
    int held = setjmp(jb) == 0;
    if (held) fz_http_check((const uint8_t *)buf, n);
    fz_jmp = NULL;
    return held;
}

/* The fuzzer's invariants (fuzz/fuzz_http.c) over mutations of requests:
 * tokens inserted, bytes changed or dropped, heads cut short. */
static void test_mutations(void) {
    static const char *const seeds[] = {
        "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
        "HEAD /health?x=1 HTTP/1.0\n\n",
        "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"};
    static const char *const tokens[] = {
        "\r\n", "\n",  " ",        ":",        "/",
        "?",    "GET", "HTTP/1.1", "HTTP/9.9", "Content-Length: 7",
        "\t",   "\x01"};
    fz_rng rng;
    fz_rng_seed(&rng, (const uint8_t *)"eddy", 4);
    int runs = 0, failed = 0, verdicts[3] = {0, 0, 0};
    char buf[512];
    for (; runs < 50000 && !failed; runs++) {
        const char *seed = seeds[fz_rng_next(&rng) % 3];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        for (int m = (int)(fz_rng_next(&rng) % 4); m >= 0; m--) {
            size_t at = fz_rng_next(&rng) % (n + 1);
            const char *t = tokens[fz_rng_next(&rng) % 12];
            size_t tn = strlen(t);
            int op = (int)(fz_rng_next(&rng) % 3);
            if (op == 0 && n + tn < sizeof buf) { /* insert a token */
                memmove(buf + at + tn, buf + at, n - at);
                memcpy(buf + at, t, tn);
                n += tn;
            } else if (op == 1 && at < n) { /* change a byte */
                buf[at] = (char)fz_rng_next(&rng);
            } else if (at < n) { /* cut */
                n = at;
            }
        }
        failed = !check_one(buf, n);
        eddy_http_req r;
        int rc = eddy_http_parse(buf, n, &r);
        verdicts[rc > 0 ? 0 : rc == 0 ? 1 : 2]++;
    }
    printf("# %d accepted, %d incomplete, %d rejected\n", verdicts[0],
           verdicts[1], verdicts[2]);
    TAP_OK(!failed, "the fuzzer's invariants hold over %d mutated requests%s%s",
           runs, failed ? ": " : "", failed ? fz_msg : "");
}

/* Answers every request with *ud bytes of 'x'. */
static int big_handler(void *ud, const eddy_http_req *req, eddy_buf *body,
                       const char **ctype) {
    size_t n = *(size_t *)ud;
    if (eddy_buf_reserve(body, n) != 0) return 500;
    memset(body->data, 'x', n);
    body->len = n;
    return 200;
}

/* Connects to port with a small receive buffer and sends req. */
static int client(int port, const char *req) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Reads the answer on fd slowly while the loop runs; its total length, or
 * 0 after 4 s (before the server's deadline). *head gets its start. */
static size_t slow_read(struct ev_loop *loop, int fd, char *head, size_t hn) {
    char buf[8192];
    size_t got = 0;
    int64_t t0 = eddy_clock_mono_ms();
    while (eddy_clock_mono_ms() - t0 < 4000) {
        ev_run(loop, EVRUN_NOWAIT);
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0) return got;
        if (n < 0 && errno != EAGAIN) return 0;
        if (n < 0) {
            usleep(200);
            continue;
        }
        if (got < hn)
            memcpy(head + got, buf,
                   got + (size_t)n < hn ? (size_t)n : hn - got);
        got += (size_t)n;
    }
    return 0;
}

static void test_server(void) {
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    size_t big = 4 << 20;
    char err[256], head[256] = "";
    eddy_http *s = eddy_http_start(loop, "127.0.0.1:0", big_handler, &big, err,
                                   sizeof err);
    TAP_OK(s != NULL && eddy_http_port(s) > 0, "a server on port 0 gets a "
                                               "port");
    int fd = s ? client(eddy_http_port(s), "GET /x HTTP/1.1\r\n\r\n") : -1;
    size_t got = fd >= 0 ? slow_read(loop, fd, head, sizeof head - 1) : 0;
    char *end = strstr(head, "\r\n\r\n");
    TAP_OK(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0 && end &&
               got - (size_t)(end + 4 - head) == big,
           "a 4 MB answer to a slow reader arrives whole (%zu bytes)", got);
    if (fd >= 0) close(fd);
    fd = s ? client(eddy_http_port(s), "BREW /x HTTP/1.1\r\n\r\n") : -1;
    memset(head, 0, sizeof head);
    if (fd >= 0) slow_read(loop, fd, head, sizeof head - 1);
    TAP_OK(strncmp(head, "HTTP/1.1 405 ", 13) == 0 &&
               strstr(head, "Allow: GET, HEAD\r\n"),
           "another method: 405 with Allow");
    if (fd >= 0) close(fd);
    eddy_http_free(s);
    ev_loop_destroy(loop);
}

int main(void) {
    test_good();
    test_incomplete();
    test_bad();
    test_limits();
    test_addr();
    test_mutations();
    test_server();
    return tap_done();
}

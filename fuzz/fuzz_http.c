/* fuzz_http.c - libFuzzer target for the HTTP request parser (http.c).
 *
 * The input is a request head as a client might send it. Invariants: the
 * parser answers "more", a head length within the input, or one of the
 * rejections the server knows (400, 413, 414, 431, 505); "more" only while
 * the input is shorter than the server's buffer; an accepted head has an
 * uppercase method and a path that starts with '/', holds no '?' and fits
 * the limit; every prefix of an accepted head is "more" (the server parses
 * as bytes arrive), and parsing the head alone gives the same answer. */
#include "http.h"

#include "fuzz_common.h"

static int fz_rejection(int rc) {
    return rc == -400 || rc == -413 || rc == -414 || rc == -431 || rc == -505;
}

static void fz_check_accepted(const char *s, int rc, const eddy_http_req *r) {
    FZ_CHECK(r->method[0] != '\0');
    for (const char *m = r->method; *m; m++) FZ_CHECK(*m >= 'A' && *m <= 'Z');
    FZ_CHECK(r->path[0] == '/' && strchr(r->path, '?') == NULL);
    FZ_CHECK(strlen(r->path) <= EDDY_HTTP_MAX_TARGET);
    eddy_http_req again;
    FZ_CHECK(eddy_http_parse(s, (size_t)rc, &again) == rc);
    FZ_CHECK(strcmp(again.path, r->path) == 0);
    int step = rc > 512 ? rc / 64 + 1 : 1; /* long heads: 64 prefixes */
    for (int k = 0; k < rc; k += step) {
        eddy_http_req p;
        FZ_CHECK(eddy_http_parse(s, (size_t)k, &p) == 0);
    }
}

__attribute__((unused)) static int fz_http_check(const uint8_t *data,
                                                 size_t size) {
    size_t n = size < EDDY_HTTP_MAX_HEAD ? size : EDDY_HTTP_MAX_HEAD;
    const char *s = (const char *)data;
    eddy_http_req r;
    int rc = eddy_http_parse(s, n, &r);
    FZ_CHECK(rc == 0 || fz_rejection(rc) || (rc > 0 && (size_t)rc <= n));
    if (rc == 0) FZ_CHECK(n < EDDY_HTTP_MAX_HEAD);
    if (rc > 0) fz_check_accepted(s, rc, &r);
    return 0;
}

#ifndef FZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fz_http_check(data, size);
}
#endif

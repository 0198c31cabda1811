/* buf.c - growable byte buffers.
 *
 * Invariant: data is NULL iff cap is 0; len <= cap. Memory errors are
 * reported as -1 and leave the buffer unchanged, never abort. The owner of
 * an eddy_buf owns its data and frees it with eddy_buf_free. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eddy_buf_init(eddy_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void eddy_buf_free(eddy_buf *b) {
    free(b->data);
    eddy_buf_init(b);
}

int eddy_buf_reserve(eddy_buf *b, size_t n) {
    if (b->cap - b->len >= n) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > ((size_t)-1) / 2) return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int eddy_buf_add(eddy_buf *b, const void *p, size_t n) {
    if (n == 0) return 0;
    if (eddy_buf_reserve(b, n) != 0) return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int eddy_buf_addc(eddy_buf *b, char c) {
    if (b->len == b->cap && eddy_buf_reserve(b, 1) != 0) return -1;
    b->data[b->len++] = c;
    return 0;
}

int eddy_buf_adds(eddy_buf *b, const char *s) {
    return eddy_buf_add(b, s, strlen(s));
}

int eddy_buf_addf(eddy_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof small) return eddy_buf_add(b, small, (size_t)n);
    if (eddy_buf_reserve(b, (size_t)n + 1) != 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void eddy_buf_consume(eddy_buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void eddy_buf_reset(eddy_buf *b) {
    b->len = 0;
}

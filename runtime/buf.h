/* buf.h - growable byte buffers. */
#ifndef EDDY_BUF_H
#define EDDY_BUF_H

#include <stddef.h>

/* A buffer is a plain struct so it can live inside other structs and on the
 * stack; its fields are read directly but only changed through these calls. */
typedef struct eddy_buf {
    char *data;
    size_t len;
    size_t cap;
} eddy_buf;

void eddy_buf_init(eddy_buf *b);
void eddy_buf_free(eddy_buf *b);
/* Make room for n more bytes; returns 0, or -1 when out of memory. */
int eddy_buf_reserve(eddy_buf *b, size_t n);
int eddy_buf_add(eddy_buf *b, const void *p, size_t n);
int eddy_buf_addc(eddy_buf *b, char c);
int eddy_buf_adds(eddy_buf *b, const char *s);
/* printf-style append; returns 0 or -1. */
int eddy_buf_addf(eddy_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes, moving the rest to the front. */
void eddy_buf_consume(eddy_buf *b, size_t n);
void eddy_buf_reset(eddy_buf *b);

#endif

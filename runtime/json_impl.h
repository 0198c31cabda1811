/* json_impl.h - private to the JSON codec (json.c decodes, json_encode.c
 * encodes): the few definitions both halves share. */
#ifndef EDDY_JSON_IMPL_H
#define EDDY_JSON_IMPL_H

#include <stddef.h>

#define ARRAY_MT "eddy.json.array" /* registry key of the array metatable */

#define isdig(c) ((c) >= '0' && (c) <= '9')

/* Exact powers of ten (the decoder's fast path, the encoder's fixed point). */
static const double pow10tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The first byte at or after q that a JSON string cannot hold as it is
 * ('"', '\\' or a control character), or end. */
static inline const char *scan_plain(const char *q, const char *end) {
    while (q < end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"' || c == '\\' || c < 0x20) break;
        q++;
    }
    return q;
}

#endif

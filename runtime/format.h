/* format.h - event formats on the wire: lines and json (NDJSON). */
#ifndef EDDY_FORMAT_H
#define EDDY_FORMAT_H

#include <lua.h>
#include <stddef.h>

#include "buf.h"

enum { EDDY_FMT_LINES, EDDY_FMT_JSON };

/* Format number for a name, or -1. NULL means the default, json. */
int eddy_format_parse(const char *name);
const char *eddy_format_name(int fmt);

/* Decodes one line into an event and pushes it: 0, or -1 with err (nothing
 * pushed). [-0, +(1|0), m] */
int eddy_format_decode(lua_State *L, int fmt, const char *s, size_t n,
                       char *err, size_t errlen);
/* Appends the value at idx and a newline to b: 0, or -1 with err and b
 * unchanged. [-0, +0, m] */
int eddy_format_encode(lua_State *L, int fmt, int idx, eddy_buf *b, char *err,
                       size_t errlen);

#endif

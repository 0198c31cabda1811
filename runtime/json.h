/* json.h - JSON (NDJSON lines) to and from Lua values. */
#ifndef EDDY_JSON_H
#define EDDY_JSON_H

#include <lua.h>
#include <stddef.h>

#include "buf.h"

/* Deepest nesting accepted by the decoder and the encoder. */
#define EDDY_JSON_MAX_DEPTH 128

/* Pushes the registry's array metatable (created on first use): decoded
 * empty JSON arrays carry it so they encode back as [] instead of {}.
 * [-0, +1, m] */
void eddy_json_push_array_mt(lua_State *L);

/* Decodes exactly one JSON document from s[0..len) (surrounding whitespace
 * allowed). Integers that fit int64 become Lua integers, other numbers
 * floats; null becomes eddy.null (a NULL light userdata).
 * On success pushes the value and returns 0. On bad input pushes nothing,
 * writes "message at byte N" into err and returns -1. [-0, +(0|1), m] */
int eddy_json_decode(lua_State *L, const char *s, size_t len, char *err,
                     size_t errlen);

/* Appends the JSON text of the value at idx to b (no newline). Integers are
 * written as integers, floats always with a '.' or exponent (3.0), object
 * keys sorted bytewise so the same value gives the same bytes. Tables whose
 * keys are exactly 1..n are arrays; an empty table is {} unless it carries
 * the array metatable. NaN/inf, functions, userdata other than eddy.null,
 * threads, cycles and depth over the limit are refused: returns -1 with a
 * message in err (b may hold a partial document: the caller truncates).
 * [-0, +0, m] */
int eddy_json_encode(lua_State *L, int idx, eddy_buf *b, char *err,
                     size_t errlen);

#endif

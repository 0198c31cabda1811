/* json.h - JSON (NDJSON lines) to and from Lua values. */
#ifndef EDDY_JSON_H
#define EDDY_JSON_H

#include <lua.h>
#include <stddef.h>

#include "buf.h"

/* Deepest nesting accepted by the decoder and the encoder. */
#define EDDY_JSON_MAX_DEPTH 128

/* Pushes the registry's array metatable (registry["eddy.json.array"],
 * created on first use): decoded empty JSON arrays carry it so they encode
 * back as [] instead of {}. [-0, +1, m] */
void eddy_json_push_array_mt(lua_State *L);

/* Decodes exactly one JSON document from s[0..len) (surrounding whitespace
 * allowed; s need not be NUL-terminated). Integers that fit int64 become
 * Lua integers ("-0" is 0), other numbers floats; numbers beyond the double
 * range are refused. null becomes eddy.null (a NULL light userdata).
 * Objects become plain tables (duplicate keys: the last one wins), arrays
 * tables 1..n; an empty array gets the array metatable. \u escapes become
 * UTF-8; a lone surrogate is refused; other bytes are copied unvalidated
 * (Lua strings are bytes; the encoder writes ill-formed UTF-8 as U+FFFD).
 * On success pushes the value and returns 0. On bad input pushes nothing,
 * writes "message at byte N" into err (N: 0-based offset of the offending
 * byte, or of the opening quote for an unterminated string) and returns -1.
 * Raises only memory errors. [-0, +(0|1), m] */
int eddy_json_decode(lua_State *L, const char *s, size_t len, char *err,
                     size_t errlen);

/* Appends the JSON text of the value at idx to b (no newline). Integers are
 * written as integers, floats in the shortest form that reads back exactly,
 * always with a '.' or exponent (3.0), object keys sorted bytewise so the
 * same value gives the same bytes. Tables whose keys are exactly 1..n are
 * arrays; an empty table is {} unless it carries the array metatable. Other
 * tables are objects: number and boolean keys are written as strings, and
 * two keys with the same text (1 and "1") are refused. Tables are read raw
 * (metamethods are ignored). Strings are escaped as JSON needs, and the
 * text is always valid UTF-8: well-formed UTF-8 sequences are copied as
 * they are, and each maximal subpart of an ill-formed one (a stray byte,
 * a truncated sequence, an overlong form, a surrogate, a code point above
 * U+10FFFF) is written as U+FFFD, so "\xff\xfe" encodes as two U+FFFD.
 * Two keys that encode alike that way ("\xff" and "\xfe") are refused as
 * 1 and "1" are. NaN/inf, functions, userdata other than eddy.null,
 * threads, cycles, depth over the limit and objects over 400000 keys are
 * refused: returns -1 with a message in err (b may hold a partial document:
 * the caller truncates). Raises only memory errors. [-0, +0, m] */
int eddy_json_encode(lua_State *L, int idx, eddy_buf *b, char *err,
                     size_t errlen);

/* Flags of eddy_json_encode_flags. */
#define EDDY_JSON_NONFINITE_NULL 1 /* NaN/inf as null (keys: "inf", "-inf") */

/* eddy_json_encode with flags (EDDY_JSON_*; 0 is eddy_json_encode).
 * [-0, +0, m] */
int eddy_json_encode_flags(lua_State *L, int idx, eddy_buf *b, int flags,
                           char *err, size_t errlen);

/* 1 if s[0..len) is valid UTF-8 (as the encoder judges it), else 0. */
int eddy_json_utf8_valid(const char *s, size_t len);

#endif

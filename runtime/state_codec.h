/* state_codec.h - operator state (Lua values) to and from checkpoint bytes.
 *
 * A state record is a version byte followed by one tagged value: nil,
 * booleans, integers, floats, strings, eddy.null and tables of those
 * (array-marked tables keep their mark). The same value always gives the
 * same bytes: table keys are written in a canonical order, so insertion
 * order and the hash seed do not matter. State keys (the tail of a LevelDB
 * key that names a key of a keyed stream) have their own canonical,
 * order-preserving encoding without a version byte. */
#ifndef EDDY_STATE_CODEC_H
#define EDDY_STATE_CODEC_H

#include <lua.h>
#include <stddef.h>

#include "buf.h"

/* The first byte of every state record. */
#define EDDY_CODEC_VERSION 1
/* Deepest nesting of tables the encoder writes and the decoder reads. */
#define EDDY_CODEC_MAX_DEPTH 64

/* Appends the version byte and the encoding of the value at idx to b.
 *
 * On failure returns -1, leaves b as it was, and writes "<path>: <reason>"
 * into err, where path starts with root and names the offending place in
 * Lua syntax, e.g. root "state" -> "state.cb: a function cannot be
 * checkpointed", "state.items[3].f: ...", "state[\"a b\"]: ...",
 * "state[true]: ...". Reasons: "a function cannot be checkpointed",
 * "a userdata cannot be checkpointed", "a thread cannot be checkpointed",
 * "a cycle cannot be checkpointed" (a table that contains itself on the
 * current path; a table shared in two branches is NOT a cycle and is
 * simply written twice), "nesting deeper than 64 cannot be checkpointed"
 * (64 nested tables are fine, the 65th is named), "a table key cannot be
 * checkpointed" (likewise "a function key", "a userdata key", "a thread
 * key"; "eddy.null cannot be a key"), "NaN cannot be a key" (impossible
 * in Lua anyway), and "out of memory" / "out of Lua stack".
 *
 * A bad key names the table holding it ("state.t: a table key cannot be
 * checkpointed"); the other reasons name the offending value. Long string
 * keys are shown shortened ("state[\"aaaa...\"]"); when the message does
 * not fit errlen the middle of the path gives way ("state...[2].f:
 * reason") so the reason stays whole. Tables are read raw: metamethods are
 * ignored and metatables other than the JSON array metatable are dropped.
 * Raises only memory errors; the stack is as it was on entry.
 * [-0, +0, m] */
int eddy_codec_encode(lua_State *L, int idx, const char *root, eddy_buf *b,
                      char *err, size_t errlen);

/* Decodes one value from s[0..n) and pushes it.
 *
 * Returns 0, or -1 with err ("truncated state record", "unknown state
 * format version N (this eddy reads 1)", "bad tag 0x.. at byte N",
 * "trailing bytes"; corrupted records can also give "bad varint at byte
 * N", "NaN key at byte N" and "nesting deeper than 64 at byte N") and
 * nothing pushed. N counts from the version byte, which is byte 0.
 *
 * Never trusts lengths: a corrupted record must not read out of bounds or
 * allocate absurd sizes before checking against n (a string's length must
 * fit in what is left, a table's count in half of it). Raises only memory
 * errors and holds no malloc'd memory. [-0, +(1|0), m] */
int eddy_codec_decode(lua_State *L, const char *s, size_t n, char *err,
                      size_t errlen);

/* Canonical bytes of a state key (string or integer; no version byte),
 * used inside LevelDB keys: the same key always gives the same bytes, a
 * string key and an integer key never collide, and bytewise order of
 * encoded integer keys follows numeric order.
 *
 * Format: 's' and the string's bytes (no length: the key ends the LevelDB
 * key; strings sort bytewise), or 'i' and 8 bytes big-endian with the sign
 * bit flipped. A float with an integer value (3.0) is the integer key 3,
 * as in a Lua table. Returns 0, or -1 with err for other types (b is then
 * left as it was). [-0, +0, -] */
int eddy_codec_encode_key(lua_State *L, int idx, eddy_buf *b, char *err,
                          size_t errlen);

/* Pushes the key decoded from s[0..n): 0, or -1 (bad bytes, nothing
 * pushed). [-0, +(1|0), m] */
int eddy_codec_decode_key(lua_State *L, const char *s, size_t n);

#endif

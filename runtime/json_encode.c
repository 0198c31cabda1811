/* json_encode.c - Lua values to JSON text (the decoder is json.c).
 *
 * The encoder walks a Lua value and appends its text to an eddy_buf.
 * Objects are written with their keys sorted bytewise. The common event
 * shape, a small table of string keys with scalar values, takes a fast
 * path that reads the members into a C array, sorts them there and writes
 * them into room made once for the whole object; any other table is staged
 * on the Lua stack (see enc_object). Strings are checked for bytes to
 * escape and for bytes >= 0x80 a word at a time, and copied as they are
 * when they hold neither (pure ASCII, the common case).
 *
 * The output is always valid UTF-8 (Lua strings are bytes). A string with
 * a byte >= 0x80 takes a slower path that copies valid UTF-8 sequences and
 * writes U+FFFD for each maximal subpart of an ill-formed one (Unicode's
 * "U+FFFD substitution of maximal subparts", as the WHATWG decoder does):
 * "\xff\xfe" gives two U+FFFD, "\xe2\x82" (a truncated euro sign) one.
 * Overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF)
 * and code points above U+10FFFF (F4 90.., F5..FF) are ill-formed. An
 * object whose keys differ only in such bytes ("\xff" and "\xfe") would
 * get the same key twice: it is refused like 1 and "1" are.
 *
 * Invariant: on failure the Lua stack is back at its height on entry and
 * -1 is returned with "message" in err; the only Lua errors raised are
 * memory errors, and no malloc'd memory is held across a Lua API call, so
 * such a longjmp leaks nothing.
 *
 * Ownership: the caller owns the eddy_buf and err. The scratch userdata for
 * big objects is Lua's. String pointers taken from Lua values stay valid
 * while the value is reachable from the stack (Lua's collector does not
 * move objects).
 */
#include "json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_impl.h"

#define ARENA 256   /* object keys sorted without a userdata */
#define FLAT_MAX 16 /* members of an object the fast path takes */

typedef struct kent { /* an object member: key text, stack slot of value */
    const char *s;
    size_t len;
    int v;
} kent;

enum { F_STR, F_INT, F_FLT, F_TRUE, F_FALSE };

typedef struct flat { /* a member of a flat object, read in place */
    const char *k;
    size_t klen, slen; /* slen: 0 unless a string */
    int tag;
    union {
        const char *s;
        lua_Integer i;
        double x;
    } v;
} flat;

typedef struct enc {
    lua_State *L;
    eddy_buf *b;
    char *err;
    size_t errlen;
    int depth;         /* tables on the path */
    size_t used;       /* arena entries in use */
    const void **path; /* [EDDY_JSON_MAX_DEPTH]: tables on the path */
    kent *arena;       /* [ARENA]: shared by nested objects */
    flat *flat;        /* [FLAT_MAX]: the flat object being written */
    int flags;         /* EDDY_JSON_* */
} enc;

__attribute__((format(printf, 2, 3))) static int efail(enc *e, const char *fmt,
                                                       ...) {
    va_list ap;
    va_start(ap, fmt);
    if (e->errlen > 0) vsnprintf(e->err, e->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Appends n bytes; writes into the room eddy_buf_reserve makes. */
static inline int put(enc *e, const char *s, size_t n) {
    eddy_buf *b = e->b;
    if (b->cap - b->len < n && eddy_buf_reserve(b, n))
        return efail(e, "out of memory");
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static const char digit_pairs[] =
    "0001020304050607080910111213141516171819202122232425262728293031323334"
    "3536373839404142434445464748495051525354555657585960616263646566676869"
    "707172737475767778798081828384858687888990919293949596979899";

/* Writes u in decimal to out (at least 20 bytes), from its last digit back
 * (no scratch to copy from: a wide load of narrow stores stalls); returns
 * the length. */
static size_t fmt_uint(char *out, uint64_t u) {
    size_t n = 1;
    for (uint64_t p = 10; n < 20 && u >= p; p *= 10) n++;
    char *o = out + n;
    for (; u >= 100; u /= 100) memcpy(o -= 2, digit_pairs + 2 * (u % 100), 2);
    if (u >= 10)
        memcpy(o - 2, digit_pairs + 2 * u, 2);
    else
        o[-1] = (char)('0' + u);
    return n;
}

/* Writes v in decimal to out (at least 21 bytes); returns the length. */
static size_t fmt_int(char *out, lua_Integer v) {
    if (v >= 0) return fmt_uint(out, (uint64_t)v);
    out[0] = '-';
    return 1 + fmt_uint(out + 1, 0 - (uint64_t)v);
}

/* Writes ax (negated if neg) in fixed point with the fewest decimals k such
 * that m / 10^k == ax for an integer m < 2^53. The decoder's fast path does
 * that very division, so the text reads back as ax. Returns 0 if there is
 * no such k (ax then needs 16 or 17 significant digits). */
static size_t fmt_fixed(char *out, double ax, int neg) {
    char dig[24], *p = dig + 4;
    size_t k = 0, n, o = 0;
    double m = 0;
    for (; k < 23; k++) {
        m = nearbyint(ax * pow10tab[k]);
        if (m >= 9007199254740992.0) return 0;
        if (m / pow10tab[k] == ax) break;
    }
    if (k > 20) return 0; /* (callers keep ax >= 1e-4, so k <= n + 3) */
    for (n = fmt_uint(p, (uint64_t)m); n <= k && p > dig; n++) *--p = '0';
    if (n <= k) return 0;
    if (neg) out[o++] = '-';
    memcpy(out + o, p, n - k); /* integer part */
    o += n - k;
    out[o++] = '.';
    memcpy(out + o, k ? p + n - k : "0", k ? k : 1);
    return o + (k ? k : 1);
}

/* Writes finite x to out (at least 32 bytes) in the shortest form that
 * reads back as x, always with a '.' or an exponent so it reads back as a
 * float: fixed-point for 1e-4 <= |x| < 1e15, else the shortest of %.15g,
 * %.16g and %.17g. Returns the length. */
static size_t fmt_float(char *out, double x) {
    double ax = fabs(x);
    size_t f = ax >= 1e-4 && ax < 1e15 ? fmt_fixed(out, ax, signbit(x)) : 0;
    if (f) return f;
    int n = snprintf(out, 32, "%.15g", x);
    if (strtod(out, NULL) != x) n = snprintf(out, 32, "%.16g", x);
    if (strtod(out, NULL) != x) n = snprintf(out, 32, "%.17g", x);
    for (int i = 0; i < n; i++) /* a locale's decimal comma */
        if (!isdig(out[i]) && out[i] != '-' && out[i] != '+' && out[i] != 'e')
            out[i] = '.';
    if (!memchr(out, '.', (size_t)n) && !memchr(out, 'e', (size_t)n))
        out[n++] = '.', out[n++] = '0';
    return (size_t)n;
}

#define ONES 0x0101010101010101u

/* Nonzero if a byte of w cannot be copied as it is: one to escape ('"',
 * '\\', below 0x20) or one >= 0x80 (UTF-8 to check). With x = w ^ 0x02 in
 * each byte, '"' becomes 0x20 and bytes below 0x20 stay below it: those
 * are exactly the bytes of x below 0x21. Bytes below n are found by (x - n
 * in each byte) & ~x & high bits, which is nonzero exactly if one is there
 * (n <= 0x80); a '\\' is a zero byte of w ^ '\\'; a byte >= 0x80 has its
 * high bit set in w. */
static inline uint64_t esc8(uint64_t w) {
    uint64_t x = w ^ (ONES * 0x02), bs = w ^ (ONES * '\\');
    return (((x - ONES * 0x21) & ~x) | ((bs - ONES) & ~bs) | w) & (ONES * 0x80);
}

static inline uint64_t ld8(const char *s) {
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static inline uint32_t ld4(const char *s) {
    uint32_t w;
    memcpy(&w, s, 4);
    return w;
}

/* Copies s[0..len) to o if it is plain ASCII with no byte to escape;
 * returns 0, else
 * -1 (o may then hold part of it). Reads and writes whole words,
 * overlapping at the end: never a byte outside s[0..len) or o[0..len). */
__attribute__((always_inline)) static inline int
copy_plain(char *o, const char *s, size_t len) {
    if (len >= 8) {
        size_t i = 0;
        for (; i + 8 < len; i += 8) {
            uint64_t w = ld8(s + i);
            if (esc8(w)) return -1;
            memcpy(o + i, &w, 8);
        }
        uint64_t w = ld8(s + len - 8);
        return esc8(w) ? -1 : (memcpy(o + len - 8, &w, 8), 0);
    }
    if (len >= 4) {
        uint32_t a = ld4(s), z = ld4(s + len - 4);
        if (esc8(a | (uint64_t)z << 32)) return -1;
        return memcpy(o, &a, 4), memcpy(o + len - 4, &z, 4), 0;
    }
    if (len == 0) return 0;
    unsigned char a = (unsigned char)s[0], m = (unsigned char)s[len / 2],
                  z = (unsigned char)s[len - 1]; /* some may be one byte */
    if (esc8(a | m << 8 | (uint64_t)z << 16 | ONES * 'a' << 24)) return -1;
    return o[0] = (char)a, o[len / 2] = (char)m, o[len - 1] = (char)z, 0;
}

/* Writes the escape of c ('"', '\\' or below 0x20) at o (room for 6);
 * returns the end. */
static inline char *put_esc(char *o, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    static const char short_esc[32] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
    *o++ = '\\';
    if (c == '"' || c == '\\')
        *o++ = (char)c;
    else if (c < 0x20 && short_esc[c])
        *o++ = short_esc[c];
    else
        memcpy(o, "u00", 3), o[3] = hex[c >> 4], o[4] = hex[c & 15], o += 5;
    return o;
}

/* The first byte at or after q that copy_plain does not copy: one to
 * escape or one >= 0x80; or end. */
static inline const char *scan_ascii(const char *q, const char *end) {
    while (q < end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        q++;
    }
    return q;
}

/* The UTF-8 sequence at s (s < end, *s >= 0x80): its length if it is
 * well-formed, else minus the length of its maximal subpart (1 to 3: the
 * bytes one U+FFFD stands for). The second byte's range depends on the
 * first (Unicode table 3-7), which rules out overlong forms, surrogates
 * and code points above U+10FFFF. */
static int utf8_seq(const unsigned char *s, const unsigned char *end) {
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c < 0xC2 || c > 0xF4) return -1; /* 80..C1, F5..FF: never a lead */
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    for (int i = 1; i < n; i++, lo = 0x80, hi = 0xBF)
        if (end - s <= i || s[i] < lo || s[i] > hi) return -i;
    return n;
}

/* Writes the UTF-8 sequence at *sp (a byte >= 0x80) at o, or U+FFFD if
 * it is ill-formed; advances *sp past what it stands for (room: 3, or the
 * bytes it advances over, if more). Returns the end. */
static char *put_utf8(char *o, const char **sp, const char *end) {
    const unsigned char *s = (const unsigned char *)*sp;
    int n = utf8_seq(s, (const unsigned char *)end);
    if (n > 0) {
        memcpy(o, s, (size_t)n);
        *sp += n;
        return o + n;
    }
    *sp += -n;
    return memcpy(o, "\xef\xbf\xbd", 3), o + 3;
}

/* Writes the byte at *sp, one scan_ascii stops at, at o: its escape, or
 * as put_utf8 does; advances *sp (room: 6, or the bytes it advances over,
 * if more). Returns the end. */
static inline char *put_special(char *o, const char **sp, const char *end) {
    unsigned char c = (unsigned char)**sp;
    if (c >= 0x80) return put_utf8(o, sp, end);
    *sp += 1;
    return put_esc(o, c);
}

/* Writes s[0..end) escaped, as valid UTF-8, at o (room for 6 times as
 * much); returns the end. */
__attribute__((noinline)) static char *put_escaped(char *o, const char *s,
                                                   const char *end) {
    for (;;) {
        const char *run = s;
        s = scan_ascii(s, end);
        memcpy(o, run, (size_t)(s - run));
        o += s - run;
        if (s == end) return o;
        o = put_special(o, &s, end);
    }
}

int eddy_json_utf8_valid(const char *s, size_t len) {
    const char *end = s + len;
    for (; end - s >= 8; s += 8)
        if (ld8(s) & (ONES * 0x80)) break;
    while (s < end) {
        if ((unsigned char)*s < 0x80) {
            s++;
            continue;
        }
        int n = utf8_seq((const unsigned char *)s, (const unsigned char *)end);
        if (n < 0) return 0;
        s += n;
    }
    return 1;
}

/* Writes s[0..len) quoted and escaped at o, which has room for 6 * len + 2;
 * returns the end. */
__attribute__((always_inline)) static inline char *
put_str(char *o, const char *s, size_t len) {
    *o++ = '"';
    if (copy_plain(o, s, len) == 0)
        o += len;
    else
        o = put_escaped(o, s, s + len);
    *o++ = '"';
    return o;
}

/* Appends s[0..len) quoted and escaped, making room as it goes. */
static int enc_string(enc *e, const char *s, size_t len) {
    eddy_buf *b = e->b;
    const char *end = s + len;
    if (eddy_buf_reserve(b, len + 2)) return efail(e, "out of memory");
    char *o = b->data + b->len;
    *o++ = '"';
    if (copy_plain(o, s, len) == 0) {
        o[len] = '"';
        b->len += len + 2;
        return 0;
    }
    for (;;) {
        const char *run = s;
        s = scan_ascii(s, end);
        memcpy(o, run, (size_t)(s - run));
        o += s - run;
        if (s == end) break;
        b->len = (size_t)(o - b->data); /* room for 6 + the rest */
        if (eddy_buf_reserve(b, 6 + (size_t)(end - s)))
            return efail(e, "out of memory");
        o = put_special(b->data + b->len, &s, end);
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

static int enc_value(enc *e, int idx);

/* Keys exactly 1..n? (n >= 1 is the raw length.) [-0, +0, -] */
static int is_array(lua_State *L, int t, lua_Unsigned n) {
    lua_Unsigned count = 0;
    lua_pushnil(L);          /* stack: ... key */
    while (lua_next(L, t)) { /* stack: ... key value */
        lua_Integer k = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 0;
        if (k < 1 || (lua_Unsigned)k > n) {
            lua_pop(L, 2);
            return 0;
        }
        count++;
        lua_pop(L, 1);
    }
    return count == n;
}

/* [-0, +0, m] */
static int enc_array(enc *e, int t, lua_Unsigned n) {
    if (put(e, "[", 1)) return -1;
    for (lua_Unsigned i = 1; i <= n; i++) {
        if (i > 1 && put(e, ",", 1)) return -1;
        lua_rawgeti(e->L, t, (lua_Integer)i); /* stack: ... t[i] */
        if (enc_value(e, lua_gettop(e->L))) return -1;
        lua_pop(e->L, 1);
    }
    return put(e, "]", 1);
}

/* Replaces k's string key, which is not valid UTF-8, by the text the
 * encoder writes for it (U+FFFD for what is ill-formed), so that two keys
 * written alike compare equal. [-0, +0, m] */
static int key_fix(enc *e, kent *k) {
    lua_State *L = e->L;
    luaL_Buffer lb;
    const char *s = k->s, *end = s + k->len;
    if (!lua_checkstack(L, 4)) return efail(e, "out of Lua stack");
    char *o0 = luaL_buffinitsize(L, &lb, 3 * k->len), *o = o0;
    while (s < end)
        if ((unsigned char)*s < 0x80)
            *o++ = *s++;
        else
            o = put_utf8(o, &s, end);
    luaL_pushresultsize(&lb, (size_t)(o - o0)); /* stack: ... key value s */
    k->s = lua_tolstring(L, -1, &k->len);
    lua_replace(L, k->v - 1); /* stack: ... s value */
    return 0;
}

/* Sets k's key text from the key staged just below its value, replacing a
 * number key by its decimal string (or, with EDDY_JSON_NONFINITE_NULL, an
 * infinite one by "inf" or "-inf") and a string key that is not valid
 * UTF-8 by the text written for it. [-0, +0, m] */
static int key_text(enc *e, kent *k) {
    lua_State *L = e->L;
    int ki = k->v - 1;
    char num[32];
    int type = lua_type(L, ki);
    if (type == LUA_TSTRING) {
        k->s = lua_tolstring(L, ki, &k->len);
        if (!eddy_json_utf8_valid(k->s, k->len)) return key_fix(e, k);
    } else if (type == LUA_TBOOLEAN) {
        k->s = lua_toboolean(L, ki) ? "true" : "false";
        k->len = strlen(k->s);
    } else if (type == LUA_TNUMBER) {
        if (lua_isinteger(L, ki))
            k->len = fmt_int(num, lua_tointeger(L, ki));
        else if (isfinite(lua_tonumber(L, ki)))
            k->len = fmt_float(num, lua_tonumber(L, ki));
        else if (e->flags & EDDY_JSON_NONFINITE_NULL)
            k->len = (size_t)snprintf(num, sizeof num, "%s",
                                      lua_tonumber(L, ki) < 0 ? "-inf" : "inf");
        else
            return efail(e, "cannot encode NaN/inf");
        k->s = lua_pushlstring(L, num, k->len); /* stack: ... key value s */
        lua_replace(L, ki);                     /* stack: ... s value */
    } else {
        return efail(e, "cannot encode a %s key", luaL_typename(L, ki));
    }
    return 0;
}

/* Bytewise, a prefix first. */
static int kcmp(const void *pa, const void *pb) {
    const kent *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n && a->s[0] != b->s[0]
                ? (unsigned char)a->s[0] - (unsigned char)b->s[0]
                : memcmp(a->s, b->s, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void sort_keys(kent *k, size_t n) {
    if (n > 16) {
        qsort(k, n, sizeof *k, kcmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        kent t = k[i];
        size_t j = i;
        for (; j > 0 && kcmp(&k[j - 1], &t) > 0; j--) k[j] = k[j - 1];
        k[j] = t;
    }
}

/* Writes the members staged in k[0..n) sorted by key. [-0, +0, m] */
static int put_members(enc *e, kent *k, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (key_text(e, &k[i])) return -1;
    sort_keys(k, n);
    if (put(e, "{", 1)) return -1;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && kcmp(&k[i - 1], &k[i]) == 0)
            return efail(e, "two keys encode as \"%.*s\"",
                         (int)(k[i].len < 40 ? k[i].len : 40), k[i].s);
        if ((i > 0 && put(e, ",", 1)) || enc_string(e, k[i].s, k[i].len) ||
            put(e, ":", 1) || enc_value(e, k[i].v))
            return -1;
    }
    return put(e, "}", 1);
}

/* Stages up to cap keys and values of t on the stack, recording the value
 * slots in k; returns how many (n), or cap + 1 if t has more (the stack is
 * then left for the caller to reset). [-0, +2n, m] */
static size_t collect(lua_State *L, int t, kent *k, size_t cap) {
    size_t i = 0;
    lua_pushnil(L);          /* stack: ... key */
    while (lua_next(L, t)) { /* stack: ... k1 v1 .. key value */
        if (i == cap || !lua_checkstack(L, 4)) return cap + 1;
        k[i++].v = lua_gettop(L);
        lua_pushvalue(L, -2); /* stack: ... k1 v1 .. key value key */
    }
    return i; /* stack: ... k1 v1 .. kn vn */
}

/* [-0, +0, m] */
static int enc_empty(enc *e, int t) {
    int arr = 0;
    if (lua_getmetatable(e->L, t)) {                     /* stack: ... mt */
        lua_getfield(e->L, LUA_REGISTRYINDEX, ARRAY_MT); /* ... mt amt */
        arr = lua_rawequal(e->L, -1, -2);
        lua_pop(e->L, 2);
    }
    return arr ? put(e, "[]", 2) : put(e, "{}", 2);
}

/* Stages every key and value on the stack (the key slots in a shared arena,
 * or for big objects a userdata), then writes them sorted. [-0, +0, m] */
static int enc_object(enc *e, int t) {
    lua_State *L = e->L;
    int base = lua_gettop(L);
    kent *k = e->arena + e->used;
    size_t n = collect(L, t, k, ARENA - e->used);
    int in_arena = n <= ARENA - e->used;
    if (n == 0) return enc_empty(e, t);
    if (!in_arena) {
        lua_settop(L, base);
        lua_pushnil(L); /* stack: ... key */
        for (n = 0; lua_next(L, t); n++) lua_pop(L, 1);
        if (n > 400000 || !lua_checkstack(L, 2 * (int)n + 8))
            return efail(e, "object with %zu keys is too large to encode", n);
        k = lua_newuserdatauv(L, n * sizeof *k, 0); /* stack: ... scratch */
        collect(L, t, k, n); /* stack: ... scratch k1 v1 .. kn vn */
    } else {
        e->used += n;
    }
    if (put_members(e, k, n)) return -1;
    if (in_arena) e->used -= n;
    lua_settop(L, base);
    return 0;
}

/* ---- flat objects: the fast path ------------------------------------- */

/* Reads the scalar value at the top into m; 0, or -1 if it is not one the
 * fast path writes (tables, NaN, null...). [-0, +0, -] */
static int flat_value(lua_State *L, flat *m) {
    m->slen = 0;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        m->tag = F_STR;
        m->v.s = lua_tolstring(L, -1, &m->slen);
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            m->tag = F_INT;
            m->v.i = lua_tointeger(L, -1);
            return 0;
        }
        m->tag = F_FLT;
        m->v.x = lua_tonumber(L, -1);
        return isfinite(m->v.x) ? 0 : -1;
    case LUA_TBOOLEAN:
        m->tag = lua_toboolean(L, -1) ? F_TRUE : F_FALSE;
        return 0;
    default:
        return -1;
    }
}

/* Reads t's members into f[0..FLAT_MAX) if t has 1..FLAT_MAX string keys
 * and scalar values: returns their number, else 0 (general path), and adds
 * the length of their strings to *text. Nothing is staged: the pointers
 * stay valid as t holds the strings and no Lua code runs before they are
 * written. [-0, +0, -] */
static int flat_read(lua_State *L, int t, flat *f, size_t *text) {
    int n = 0;
    lua_pushnil(L);          /* stack: ... key */
    while (lua_next(L, t)) { /* stack: ... key value */
        if (n == FLAT_MAX || lua_type(L, -2) != LUA_TSTRING ||
            flat_value(L, &f[n]) != 0) {
            lua_pop(L, 2);
            return 0;
        }
        f[n].k = lua_tolstring(L, -2, &f[n].klen);
        *text += f[n].klen + f[n].slen;
        n++;
        lua_pop(L, 1);
    }
    return n;
}

/* Bytewise, a prefix first (as kcmp). */
static inline int flat_cmp(const flat *a, const flat *b) {
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n && a->k[0] != b->k[0]
                ? (unsigned char)a->k[0] - (unsigned char)b->k[0]
                : memcmp(a->k, b->k, n);
    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/* Sets p[0..n) to point to f[0..n) sorted by key: an insertion sort, but
 * for 2 members (a common shape) one comparison. */
static inline void sort_flat(const flat **p, const flat *f, int n) {
    if (n == 2) {
        int swap = flat_cmp(&f[0], &f[1]) > 0;
        p[0] = &f[swap], p[1] = &f[!swap];
        return;
    }
    p[0] = &f[0];
    for (int i = 1; i < n; i++) {
        int j = i;
        for (; j > 0 && flat_cmp(p[j - 1], &f[i]) > 0; j--) p[j] = p[j - 1];
        p[j] = &f[i];
    }
}

/* Whether the keys of *p[0..n) are valid UTF-8: if not, two of them may be
 * written alike, which the general path checks. */
static int flat_keys_valid(const flat *const *p, int n) {
    for (int i = 0; i < n; i++)
        if (!eddy_json_utf8_valid(p[i]->k, p[i]->klen)) return 0;
    return 1;
}

/* Writes *p[0..n) piece by piece, making room as it goes; returns 1 (for
 * the general path) if a key is not valid UTF-8. [-0, +0, -] */
static int flat_write_slow(enc *e, const flat *const *p, int n) {
    char num[32];
    if (!flat_keys_valid(p, n)) return 1;
    if (put(e, "{", 1)) return -1;
    for (int i = 0; i < n; i++) {
        const flat *m = p[i];
        if ((i > 0 && put(e, ",", 1)) || enc_string(e, m->k, m->klen) ||
            put(e, ":", 1))
            return -1;
        int rc = m->tag == F_STR    ? enc_string(e, m->v.s, m->slen)
                 : m->tag == F_INT  ? put(e, num, fmt_int(num, m->v.i))
                 : m->tag == F_FLT  ? put(e, num, fmt_float(num, m->v.x))
                 : m->tag == F_TRUE ? put(e, "true", 4)
                                    : put(e, "false", 5);
        if (rc) return -1;
    }
    return put(e, "}", 1);
}

/* Writes member m's value at o (room for 6 times its string + 2, or 32);
 * returns the end. */
static inline char *put_flat_value(char *o, const flat *m) {
    switch (m->tag) {
    case F_STR:
        return put_str(o, m->v.s, m->slen);
    case F_INT:
        return o + fmt_int(o, m->v.i);
    case F_FLT:
        return o + fmt_float(o, m->v.x);
    case F_TRUE:
        return memcpy(o, "true", 4), o + 4;
    default:
        return memcpy(o, "false", 5), o + 5;
    }
}

/* A member's room besides its escaped strings: 4 quotes, ':' and ',' (the
 * last becomes the '}'), and 32 for a value that is not a string (what
 * fmt_float needs). */
#define FLAT_ROOM 36
#define FLAT_TEXT 1024 /* string bytes in an object written in one go */

/* Writes f[0..n), whose strings are text bytes long, sorted by key; returns
 * 0, -1, or 1 (nothing written: for the general path) if a key is not
 * valid UTF-8. Other keys are distinct strings written as they are: no
 * duplicate can arise. The room for the whole object, escapes included,
 * is made once, unless the strings are long. [-0, +0, -] */
static int flat_write(enc *e, const flat *f, int n, size_t text) {
    const flat *p[FLAT_MAX];
    sort_flat(p, f, n);
    if (text > FLAT_TEXT) return flat_write_slow(e, p, n);
    size_t need = 6 * text + (size_t)n * FLAT_ROOM + 1; /* '{' */
    eddy_buf *b = e->b;
    if (b->cap - b->len < need && eddy_buf_reserve(b, need))
        return efail(e, "out of memory");
    char *o = b->data + b->len;
    *o++ = '{';
    for (int i = 0; i < n; i++) {
        const flat *m = p[i];
        *o++ = '"'; /* the key, as put_str writes it */
        if (copy_plain(o, m->k, m->klen) == 0)
            o += m->klen;
        else if (eddy_json_utf8_valid(m->k, m->klen))
            o = put_escaped(o, m->k, m->k + m->klen);
        else
            return 1; /* b->len is unchanged: nothing is written */
        *o++ = '"';
        *o++ = ':';
        o = put_flat_value(o, m);
        *o++ = ','; /* the last one becomes the '}' */
    }
    o[-1] = '}';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* Writes t if it is flat: returns 0, or -1 on failure, or 1 if t is not
 * flat or a key of it is not valid UTF-8 (the general path then). Flat
 * objects hold no table, so one member array serves them all.
 * [-0, +0, -] */
static int enc_flat(enc *e, int t) {
    size_t text = 0;
    int n = flat_read(e->L, t, e->flat, &text);
    return n > 0 ? flat_write(e, e->flat, n, text) : 1;
}

/* A flat table holds no table, so it cannot be on the path: it is written
 * before the cycle check and is not put on the path. A table that is not
 * flat has its length taken only then: a table with only string keys has
 * length 0. [-0, +0, m] */
static int enc_table(enc *e, int t) {
    int rc, room = e->depth < EDDY_JSON_MAX_DEPTH && lua_checkstack(e->L, 8);
    if (room && (rc = enc_flat(e, t)) <= 0) return rc;
    const void *self = lua_topointer(e->L, t);
    for (int i = 0; i < e->depth; i++)
        if (e->path[i] == self) return efail(e, "cannot encode a cycle");
    if (e->depth >= EDDY_JSON_MAX_DEPTH)
        return efail(e, "nesting deeper than %d", EDDY_JSON_MAX_DEPTH);
    if (!room) return efail(e, "out of Lua stack");
    e->path[e->depth++] = self;
    lua_Unsigned n = lua_rawlen(e->L, t);
    rc = n > 0 && is_array(e->L, t, n) ? enc_array(e, t, n) : enc_object(e, t);
    e->depth--;
    return rc;
}

/* [-0, +0, m] */
static int enc_value(enc *e, int idx) {
    lua_State *L = e->L;
    char num[32];
    int type = lua_type(L, idx);
    if (type == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return enc_string(e, s, n);
    }
    if (type == LUA_TNUMBER && lua_isinteger(L, idx))
        return put(e, num, fmt_int(num, lua_tointeger(L, idx)));
    if (type == LUA_TNUMBER && isfinite(lua_tonumber(L, idx)))
        return put(e, num, fmt_float(num, lua_tonumber(L, idx)));
    if (type == LUA_TNUMBER && (e->flags & EDDY_JSON_NONFINITE_NULL))
        return put(e, "null", 4);
    if (type == LUA_TNUMBER) return efail(e, "cannot encode NaN/inf");
    if (type == LUA_TTABLE) return enc_table(e, idx);
    if (type == LUA_TBOOLEAN && lua_toboolean(L, idx)) return put(e, "true", 4);
    if (type == LUA_TBOOLEAN) return put(e, "false", 5);
    if (type == LUA_TNIL ||
        (type == LUA_TLIGHTUSERDATA && !lua_touserdata(L, idx)))
        return put(e, "null", 4);
    return efail(e, "cannot encode a %s", luaL_typename(L, idx));
}

/* The body of both entry points (inlined: no extra call). [-0, +0, m] */
__attribute__((always_inline)) static inline int encode(lua_State *L, int idx,
                                                        eddy_buf *b, int flags,
                                                        char *err,
                                                        size_t errlen) {
    const void *path[EDDY_JSON_MAX_DEPTH]; /* left uninitialised: big */
    kent arena[ARENA];
    flat members[FLAT_MAX];
    enc e = {L, b, err, errlen, 0, 0, path, arena, members, flags};
    int top = lua_gettop(L);
    if (enc_value(&e, lua_absindex(L, idx)) == 0) return 0;
    lua_settop(L, top);
    return -1;
}

/* [-0, +0, m] */
int eddy_json_encode(lua_State *L, int idx, eddy_buf *b, char *err,
                     size_t errlen) {
    return encode(L, idx, b, 0, err, errlen);
}

/* [-0, +0, m] */
int eddy_json_encode_flags(lua_State *L, int idx, eddy_buf *b, int flags,
                           char *err, size_t errlen) {
    return encode(L, idx, b, flags, err, errlen);
}

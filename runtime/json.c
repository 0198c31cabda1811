/* json.c - JSON (NDJSON lines) to Lua values: the decoder (the encoder is
 * json_encode.c).
 *
 * The decoder is a recursive descent parser that builds values directly on
 * the Lua stack.
 *
 * Invariant: on failure it restores the Lua stack to its height on entry
 * and returns -1 with "message" in err; the only Lua errors it can raise
 * are memory errors, and it holds no malloc'd memory across a Lua API call,
 * so such a longjmp leaks nothing. Every value the decoder produces can be
 * encoded again (numbers are finite, strings hold no lone surrogates), but
 * for an object with two keys that differ only in ill-formed UTF-8 bytes,
 * which the encoder would write alike (U+FFFD) and refuses. Other bytes of
 * strings are not validated: Lua strings are bytes, and the encoder writes
 * ill-formed UTF-8 as U+FFFD.
 *
 * Ownership: the caller owns the input text and err. All memory this module
 * allocates is Lua's (strings, tables, luaL_Buffer boxes) and is collected
 * by the GC.
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

#define OBJ_SLOTS 4 /* hash slots an object starts with (events are small) */

/* [-0, +1, m] */
void eddy_json_push_array_mt(lua_State *L) {
    luaL_newmetatable(L, ARRAY_MT);
}

/* ---- decoder ---------------------------------------------------------- */

/* Object keys recur in every event: a small direct-mapped cache maps key
 * bytes to the Lua string already made for them, so most keys skip
 * hashing and interning (lua_pushlstring). The strings live in the
 * userdata's user value (a table, slot i+1), the bytes in the userdata. */
#define KEYCACHE 64     /* entries; a power of two */
#define KEYCACHE_LEN 24 /* longest key cached */
#define KEYCACHE_REG "eddy.json.keys"

typedef struct kcache {
    unsigned char len[KEYCACHE]; /* 0: empty */
    char bytes[KEYCACHE][KEYCACHE_LEN];
} kcache;

typedef struct dec {
    lua_State *L;
    const char *s, *p, *end; /* input start, cursor, end */
    char *err;
    size_t errlen;
    int depth;
    kcache *kc; /* NULL: no cache (the document is not an object) */
    int kcs;    /* stack index of the cache's string table */
} dec;

__attribute__((format(printf, 3, 4))) static int dfail(dec *d, const char *at,
                                                       const char *fmt, ...) {
    char msg[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->errlen > 0)
        snprintf(d->err, d->errlen, "%s at byte %zu", msg, (size_t)(at - d->s));
    return -1;
}

/* Reports the byte under the cursor (or the end of input) as unexpected. */
static int unexpected(dec *d, const char *want) {
    const char *sep = want ? ", expected " : "", *w = want ? want : "";
    if (d->p >= d->end)
        return dfail(d, d->p, "unexpected end of input%s%s", sep, w);
    unsigned char c = (unsigned char)*d->p;
    if (c > 0x20 && c < 0x7f)
        return dfail(d, d->p, "unexpected character '%c'%s%s", c, sep, w);
    return dfail(d, d->p, "unexpected byte 0x%02x%s%s", c, sep, w);
}

static void skip_ws(dec *d) {
    const char *p = d->p, *end = d->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    d->p = p;
}

/* Slow path for floats: Lua's own conversion (strtod, locale-safe).
 * [-0, +1, m] */
static int slow_number(dec *d, const char *start, size_t n) {
    lua_State *L = d->L;
    char tmp[64];
    const char *z = tmp;
    if (n < sizeof tmp) {
        memcpy(tmp, start, n);
        tmp[n] = '\0';
    } else {
        z = lua_pushlstring(L, start, n); /* stack: ... text */
    }
    size_t ok = lua_stringtonumber(L, z); /* stack: ... [text] number */
    if (z != tmp) lua_remove(L, ok ? -2 : -1);
    if (ok == 0) return dfail(d, start, "invalid number");
    if (!isfinite(lua_tonumber(L, -1))) {
        lua_pop(L, 1);
        return dfail(d, start, "number out of range");
    }
    return 0;
}

/* Integers that fit int64 are Lua integers. Floats with at most 19 digits,
 * mantissa <= 2^53 and |exponent| <= 22 are exact in one IEEE operation
 * (Clinger's fast path); the rest go to slow_number. [-0, +1, m] */
static int parse_number(dec *d) {
    const char *p = d->p, *end = d->end, *start = p;
    uint64_t m = 0;
    int neg = 0, nd = 0, nfrac = 0, isfloat = 0;
    long e10 = 0;
    if (*p == '-') neg = 1, p++;
    if (p == end || !isdig(*p)) return dfail(d, start, "invalid number");
    if (*p == '0' && p + 1 < end && isdig(p[1]))
        return dfail(d, start, "leading zero in number");
    for (; p < end && isdig(*p); p++, nd++)
        if (nd < 19) m = m * 10 + (uint64_t)(*p - '0');
    if (p < end && *p == '.') {
        isfloat = 1;
        if (++p == end || !isdig(*p)) return dfail(d, start, "invalid number");
        for (; p < end && isdig(*p); p++, nd++)
            if (nd < 19) m = m * 10 + (uint64_t)(*p - '0'), nfrac++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        isfloat = 1;
        if (++p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p == end || !isdig(*p)) return dfail(d, start, "invalid number");
        for (; p < end && isdig(*p); p++)
            if (e10 < 100000) e10 = e10 * 10 + (*p - '0');
        if (eneg) e10 = -e10;
    }
    d->p = p;
    if (!isfloat && nd <= 19 && m <= (uint64_t)INT64_MAX + (uint64_t)neg) {
        lua_pushinteger(d->L, !neg                     ? (lua_Integer)m
                              : m == (uint64_t)1 << 63 ? LUA_MININTEGER
                                                       : -(lua_Integer)m);
        return 0;
    }
    e10 -= nfrac;
    if (nd <= 19 && m <= (uint64_t)1 << 53 && e10 >= -22 && e10 <= 22) {
        double x = (double)m;
        x = e10 < 0 ? x / pow10tab[-e10] : x * pow10tab[e10];
        lua_pushnumber(d->L, neg ? -x : x);
        return 0;
    }
    return slow_number(d, start, (size_t)(p - start));
}

static long hex4(const char *p, const char *end) {
    long v = 0;
    if (end - p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int h = isdig(c)                                 ? c - '0'
                : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                         : -1;
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes the \uXXXX escape at q (with its low half if it is a high
 * surrogate) into B as UTF-8; returns the position after it, or NULL.
 * [-0, +0, m] */
static const char *unicode(dec *d, luaL_Buffer *B, const char *q) {
    long cp = hex4(q + 2, d->end), lo = -1;
    const char *next = q + 6;
    char u[4];
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    if (cp < 0) return dfail(d, q, "invalid \\u escape"), NULL;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return dfail(d, q, "lone surrogate \\u%04lx", cp), NULL;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (d->end - next >= 2 && next[0] == '\\' && next[1] == 'u')
            lo = hex4(next + 2, d->end);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return dfail(d, q, "lone surrogate \\u%04lx", cp), NULL;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        next += 6;
    }
    int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (int i = n - 1; i > 0; i--, cp >>= 6) u[i] = (char)(0x80 | (cp & 0x3f));
    u[0] = (char)(lead[n] | cp);
    luaL_addlstring(B, u, (size_t)n);
    return next;
}

/* Decodes the escape at q (a backslash) into B. [-0, +0, m] */
static const char *escape(dec *d, luaL_Buffer *B, const char *q) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (d->end - q < 2) return dfail(d, d->p, "unterminated string"), NULL;
    if (q[1] == 'u') return unicode(d, B, q);
    const char *hit = q[1] ? strchr(from, q[1]) : NULL;
    if (hit) {
        luaL_addchar(B, to[hit - from]);
        return q + 2;
    }
    unsigned char c = (unsigned char)q[1];
    if (c > 0x20 && c < 0x7f)
        return dfail(d, q, "invalid escape '\\%c'", c), NULL;
    return dfail(d, q, "invalid escape"), NULL;
}

/* The string at d->p has escapes (or is bad) from q on. [-0, +1, m] */
static int parse_escaped(dec *d, const char *q) {
    luaL_Buffer B;
    const char *run = d->p + 1;
    luaL_buffinit(d->L, &B); /* stack: ... buffer */
    for (;;) {
        luaL_addlstring(&B, run, (size_t)(q - run));
        if (q == d->end) return dfail(d, d->p, "unterminated string");
        if (*q == '"') break;
        if ((unsigned char)*q < 0x20)
            return dfail(d, q, "control character 0x%02x in string", *q);
        if (!(run = escape(d, &B, q))) return -1;
        q = scan_plain(run, d->end);
    }
    luaL_pushresult(&B); /* stack: ... string */
    d->p = q + 1;
    return 0;
}

/* [-0, +1, m] */
static int parse_string(dec *d) {
    const char *q = scan_plain(d->p + 1, d->end);
    if (q < d->end && *q == '"') {
        lua_pushlstring(d->L, d->p + 1, (size_t)(q - d->p - 1));
        d->p = q + 1;
        return 0;
    }
    return parse_escaped(d, q);
}

/* true, false or null. [-0, +1, -] */
static int parse_literal(dec *d) {
    char c = *d->p;
    const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
    size_t n = c == 'f' ? 5 : 4;
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return dfail(d, d->p, "invalid literal");
    d->p += n;
    if (c == 'n')
        lua_pushlightuserdata(d->L, NULL);
    else
        lua_pushboolean(d->L, c == 't');
    return 0;
}

/* Steps into a container at d->p; returns 1 if it is empty, 0 if not, -1
 * on error. [-0, +0, -] */
static int open_container(dec *d, char close) {
    if (++d->depth > EDDY_JSON_MAX_DEPTH)
        return dfail(d, d->p, "nesting deeper than %d", EDDY_JSON_MAX_DEPTH);
    if (!lua_checkstack(d->L, 8)) return dfail(d, d->p, "out of Lua stack");
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == close) {
        d->p++;
        d->depth--;
        return 1;
    }
    return 0;
}

static int parse_value(dec *d);

/* Parses `"key" :` of an object member. [-0, +1, m] */
/* Pushes the key string at d->p from the cache when it holds it, storing
 * it there otherwise. Returns 1 if done, 0 if the key is not cacheable
 * (escapes, long, or no cache): the caller parses it. [-0, +(1|0), m] */
static int cached_key(dec *d) {
    const char *k = d->p + 1, *q = scan_plain(k, d->end);
    size_t n = (size_t)(q - k);
    if (d->kc == NULL || q == d->end || *q != '"' || n == 0 || n > KEYCACHE_LEN)
        return 0;
    unsigned h = ((unsigned)n * 31u + (unsigned char)k[0] * 7u +
                  (unsigned char)k[n - 1]) &
                 (KEYCACHE - 1);
    kcache *c = d->kc;
    if (c->len[h] == n && memcmp(c->bytes[h], k, n) == 0) {
        lua_rawgeti(d->L, d->kcs, (lua_Integer)h + 1);
    } else {
        lua_pushlstring(d->L, k, n);
        lua_pushvalue(d->L, -1);
        lua_rawseti(d->L, d->kcs, (lua_Integer)h + 1);
        memcpy(c->bytes[h], k, n);
        c->len[h] = (unsigned char)n;
    }
    d->p = q + 1;
    return 1;
}

/* Pushes the key cache's string table and sets d->kc (made on first use).
 * [-0, +1, m] */
static void open_key_cache(dec *d) {
    lua_State *L = d->L;
    if (lua_getfield(L, LUA_REGISTRYINDEX, KEYCACHE_REG) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        kcache *c = lua_newuserdatauv(L, sizeof *c, 1); /* stack: ... ud */
        memset(c, 0, sizeof *c);
        lua_createtable(L, KEYCACHE, 0);
        lua_setiuservalue(L, -2, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, KEYCACHE_REG);
    }
    d->kc = lua_touserdata(L, -1);
    lua_getiuservalue(L, -1, 1); /* stack: ... ud strings */
    lua_remove(L, -2);           /* stack: ... strings */
    d->kcs = lua_gettop(L);
}

static int parse_key(dec *d) {
    skip_ws(d);
    if (d->p >= d->end || *d->p != '"') return unexpected(d, "a string");
    if (!cached_key(d) && parse_string(d)) return -1;
    skip_ws(d);
    if (d->p >= d->end || *d->p != ':') return unexpected(d, "':'");
    d->p++;
    return 0;
}

/* An array (obj = 0) or an object (obj = 1; duplicate keys: the last one
 * wins). The table is made first and each member stored as soon as it is
 * parsed: an object starts with OBJ_SLOTS hash slots and grows as Lua
 * tables do. [-0, +1, m] */
static int parse_container(dec *d, int obj) {
    lua_State *L = d->L;
    char close = obj ? '}' : ']';
    int rc = open_container(d, close);
    lua_Integer n = 0;
    if (rc < 0) return -1;
    lua_createtable(L, 0, rc > 0 ? 0 : obj ? OBJ_SLOTS : 0); /* ... t */
    if (rc > 0) {
        if (obj) return 0;
        eddy_json_push_array_mt(L); /* stack: ... [] mt */
        lua_setmetatable(L, -2);
        return 0;
    }
    int t = lua_gettop(L);
    for (;;) { /* stack: ... t */
        if ((obj && parse_key(d)) || parse_value(d)) return -1;
        if (obj)
            lua_rawset(L, t); /* stack: ... t */
        else
            lua_rawseti(L, t, ++n);
        skip_ws(d);
        if (d->p == d->end || (*d->p != ',' && *d->p != close))
            return unexpected(d, obj ? "',' or '}'" : "',' or ']'");
        if (*d->p++ == close) break;
    }
    d->depth--;
    return 0;
}

/* [-0, +1, m] */
static int parse_value(dec *d) {
    skip_ws(d);
    if (d->p >= d->end) return unexpected(d, "a value");
    char c = *d->p;
    if (c == '"') return parse_string(d);
    if (c == '-' || isdig(c)) return parse_number(d);
    if (c == '{' || c == '[') return parse_container(d, c == '{');
    if (c == 't' || c == 'f' || c == 'n') return parse_literal(d);
    return unexpected(d, "a value");
}

/* [-0, +(0|1), m] */
int eddy_json_decode(lua_State *L, const char *s, size_t len, char *err,
                     size_t errlen) {
    if (s == NULL) s = "";
    dec d = {L, s, s, s + len, err, errlen, 0, NULL, 0};
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 8)) return dfail(&d, s, "out of Lua stack");
    skip_ws(&d);
    if (d.p == d.end) return dfail(&d, d.p, "empty input");
    if (*d.p == '{') open_key_cache(&d); /* stack: ... strings */
    if (parse_value(&d) == 0) {
        skip_ws(&d);
        if (d.p == d.end) {
            if (d.kc) lua_replace(L, d.kcs); /* stack: ... value */
            return 0;
        }
        dfail(&d, d.p, "trailing garbage after the document");
    }
    lua_settop(L, top);
    return -1;
}

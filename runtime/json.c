/* json.c - JSON (NDJSON lines) to and from Lua values.
 *
 * The decoder is a recursive descent parser that builds values directly on
 * the Lua stack; the encoder walks a Lua value and appends its text to an
 * eddy_buf.
 *
 * Invariant: on failure both restore the Lua stack to its height on entry
 * and return -1 with "message" in err; the only Lua errors they can raise
 * are memory errors, and they hold no malloc'd memory across a Lua API call,
 * so such a longjmp leaks nothing. Every value the decoder produces can be
 * encoded again (numbers are finite, strings hold no lone surrogates).
 *
 * Ownership: the caller owns the input text, the eddy_buf and err. All
 * memory this module allocates is Lua's (strings, tables, luaL_Buffer boxes,
 * the scratch userdata) and is collected by the GC. String pointers taken
 * from Lua values stay valid while the value sits on the stack (Lua's
 * collector does not move objects).
 */
#include "json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MT "eddy.json.array" /* registry key of the array metatable */
#define CHUNK 32                   /* values a container stages on the stack */
#define ARENA 256                  /* object keys sorted without a userdata */

/* [-0, +1, m] */
void eddy_json_push_array_mt(lua_State *L) {
    luaL_newmetatable(L, ARRAY_MT);
}

/* ---- decoder ---------------------------------------------------------- */

typedef struct dec {
    lua_State *L;
    const char *s, *p, *end; /* input start, cursor, end */
    char *err;
    size_t errlen;
    int depth;
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

#define isdig(c) ((c) >= '0' && (c) <= '9')

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

static const double pow10tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

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

static const char *scan_plain(const char *q, const char *end) {
    while (q < end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"' || c == '\\' || c < 0x20) break;
        q++;
    }
    return q;
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

/* Moves the n values staged above base (n key, value pairs when obj) into
 * the container, creating it at base+1 on the first call: pops them and,
 * on the first call, pushes the table. [-(n|2n), +(1|0), m] */
static void flush(lua_State *L, int base, int *have, int n, int obj,
                  lua_Integer *next) {
    /* stack: ... [table] staged... */
    int first = base + 1 + *have, t = base + 1;
    if (!*have) {
        lua_createtable(L, obj ? 0 : n, obj ? n : 0);
        t = lua_gettop(L); /* stack: ... staged... table */
    }
    for (int i = 0; obj && i < 2 * n; i += 2) {
        lua_pushvalue(L, first + i);
        lua_pushvalue(L, first + i + 1);
        lua_rawset(L, t);
    }
    for (int i = 0; !obj && i < n; i++) {
        lua_pushvalue(L, first + i);
        lua_rawseti(L, t, ++*next);
    }
    if (!*have) lua_replace(L, base + 1);
    *have = 1;
    lua_settop(L, base + 1); /* stack: ... table */
}

/* Steps into a container at d->p; returns 1 if it is empty, 0 if not, -1
 * on error. [-0, +0, -] */
static int open_container(dec *d, char close) {
    if (++d->depth > EDDY_JSON_MAX_DEPTH)
        return dfail(d, d->p, "nesting deeper than %d", EDDY_JSON_MAX_DEPTH);
    if (!lua_checkstack(d->L, 2 * CHUNK + 8))
        return dfail(d, d->p, "out of Lua stack");
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
static int parse_key(dec *d) {
    skip_ws(d);
    if (d->p >= d->end || *d->p != '"') return unexpected(d, "a string");
    if (parse_string(d)) return -1;
    skip_ws(d);
    if (d->p >= d->end || *d->p != ':') return unexpected(d, "':'");
    d->p++;
    return 0;
}

/* An array (obj = 0) or an object (obj = 1; duplicate keys: the last one
 * wins). Members are staged on the stack and stored CHUNK at a time, so
 * the table is created with the right size. [-0, +1, m] */
static int parse_container(dec *d, int obj) {
    lua_State *L = d->L;
    char close = obj ? '}' : ']';
    int base = lua_gettop(L), have = 0, n = 0, rc = open_container(d, close);
    lua_Integer next = 0;
    if (rc < 0) return -1;
    if (rc > 0) {
        lua_createtable(L, 0, 0); /* stack: ... {} */
        if (obj) return 0;
        eddy_json_push_array_mt(L); /* stack: ... {} mt */
        lua_setmetatable(L, -2);
        return 0;
    }
    for (;;) { /* stack: ... [table] staged values (obj: key, value) */
        if ((obj && parse_key(d)) || parse_value(d)) return -1;
        if (++n == CHUNK) flush(L, base, &have, n, obj, &next), n = 0;
        skip_ws(d);
        if (d->p == d->end || (*d->p != ',' && *d->p != close))
            return unexpected(d, obj ? "',' or '}'" : "',' or ']'");
        if (*d->p++ == close) break;
    }
    d->depth--;
    flush(L, base, &have, n, obj, &next); /* stack: ... table */
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
    dec d = {L, s, s, s + len, err, errlen, 0};
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 8)) return dfail(&d, s, "out of Lua stack");
    skip_ws(&d);
    if (d.p == d.end) return dfail(&d, d.p, "empty input");
    if (parse_value(&d) == 0) {
        skip_ws(&d);
        if (d.p == d.end) return 0;
        dfail(&d, d.p, "trailing garbage after the document");
    }
    lua_settop(L, top);
    return -1;
}

/* ---- encoder ---------------------------------------------------------- */

typedef struct kent { /* an object member: key text, stack slot of value */
    const char *s;
    size_t len;
    int v;
} kent;

typedef struct enc {
    lua_State *L;
    eddy_buf *b;
    char *err;
    size_t errlen;
    int depth;         /* tables on the path */
    size_t used;       /* arena entries in use */
    const void **path; /* [EDDY_JSON_MAX_DEPTH]: tables on the path */
    kent *arena;       /* [ARENA]: shared by nested objects */
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

/* Writes u in decimal to out (at least 20 bytes); returns the length. */
static size_t fmt_uint(char *out, uint64_t u) {
    char tmp[20], *p = tmp + sizeof tmp;
    for (; u >= 100; u /= 100) memcpy(p -= 2, digit_pairs + 2 * (u % 100), 2);
    if (u >= 10)
        memcpy(p -= 2, digit_pairs + 2 * u, 2);
    else
        *--p = (char)('0' + u);
    memcpy(out, p, (size_t)(tmp + sizeof tmp - p));
    return (size_t)(tmp + sizeof tmp - p);
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

static int enc_string(enc *e, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    static const char short_esc[32] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
    eddy_buf *b = e->b;
    const char *end = s + len;
    if (eddy_buf_reserve(b, len + 2)) return efail(e, "out of memory");
    char *o = b->data + b->len;
    *o++ = '"';
    for (;;) {
        const char *run = s;
        s = scan_plain(s, end);
        memcpy(o, run, (size_t)(s - run));
        o += s - run;
        if (s == end) break;
        b->len = (size_t)(o - b->data); /* room for 6 + the rest */
        if (eddy_buf_reserve(b, 6 + (size_t)(end - s)))
            return efail(e, "out of memory");
        o = b->data + b->len;
        unsigned char c = (unsigned char)*s++;
        *o++ = '\\';
        if (c == '"' || c == '\\')
            *o++ = (char)c;
        else if (short_esc[c])
            *o++ = short_esc[c];
        else
            memcpy(o, "u00", 3), o[3] = hex[c >> 4], o[4] = hex[c & 15], o += 5;
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

/* Sets k's key text from the key staged just below its value, replacing a
 * number key by its decimal string. [-0, +0, m] */
static int key_text(enc *e, kent *k) {
    lua_State *L = e->L;
    int ki = k->v - 1;
    char num[32];
    int type = lua_type(L, ki);
    if (type == LUA_TSTRING) {
        k->s = lua_tolstring(L, ki, &k->len);
    } else if (type == LUA_TBOOLEAN) {
        k->s = lua_toboolean(L, ki) ? "true" : "false";
        k->len = strlen(k->s);
    } else if (type == LUA_TNUMBER) {
        if (lua_isinteger(L, ki))
            k->len = fmt_int(num, lua_tointeger(L, ki));
        else if (isfinite(lua_tonumber(L, ki)))
            k->len = fmt_float(num, lua_tonumber(L, ki));
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

/* [-0, +0, m] */
static int enc_table(enc *e, int t) {
    const void *self = lua_topointer(e->L, t);
    for (int i = 0; i < e->depth; i++)
        if (e->path[i] == self) return efail(e, "cannot encode a cycle");
    if (e->depth >= EDDY_JSON_MAX_DEPTH)
        return efail(e, "nesting deeper than %d", EDDY_JSON_MAX_DEPTH);
    if (!lua_checkstack(e->L, 8)) return efail(e, "out of Lua stack");
    e->path[e->depth++] = self;
    lua_Unsigned n = lua_rawlen(e->L, t);
    int rc =
        n > 0 && is_array(e->L, t, n) ? enc_array(e, t, n) : enc_object(e, t);
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
    if (type == LUA_TNUMBER) return efail(e, "cannot encode NaN/inf");
    if (type == LUA_TTABLE) return enc_table(e, idx);
    if (type == LUA_TBOOLEAN && lua_toboolean(L, idx)) return put(e, "true", 4);
    if (type == LUA_TBOOLEAN) return put(e, "false", 5);
    if (type == LUA_TNIL ||
        (type == LUA_TLIGHTUSERDATA && !lua_touserdata(L, idx)))
        return put(e, "null", 4);
    return efail(e, "cannot encode a %s", luaL_typename(L, idx));
}

/* [-0, +0, m] */
int eddy_json_encode(lua_State *L, int idx, eddy_buf *b, char *err,
                     size_t errlen) {
    const void *path[EDDY_JSON_MAX_DEPTH]; /* left uninitialised: big */
    kent arena[ARENA];
    enc e = {L, b, err, errlen, 0, 0, path, arena};
    int top = lua_gettop(L);
    if (enc_value(&e, lua_absindex(L, idx)) == 0) return 0;
    lua_settop(L, top);
    return -1;
}

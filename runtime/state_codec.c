/* state_codec.c - operator state (Lua values) to and from checkpoint bytes.
 *
 * A record is the version byte, then one value: a tag byte and its payload.
 *   NIL FALSE TRUE NULL   nothing (NULL is eddy.null, a NULL light userdata)
 *   INT                   zigzag LEB128 varint
 *   FLOAT                 IEEE 754 binary64, 8 bytes little-endian
 *   STR                   varint length, then the bytes
 *   TABLE ARRAY           varint count, then count key/value pairs with the
 *                         keys in canonical order: false < true < numbers
 *                         (by value, integers and floats mixed) < strings
 *                         (bytewise, a prefix first). ARRAY is a table that
 *                         carries the JSON array metatable.
 * The encoder stages a table's keys and values on the Lua stack (key facts
 * in a C arena shared by nested tables), sorts the facts and writes them;
 * a table too big for the arena gets a userdata for the facts and a Lua
 * sequence holding its keys, so its size is not bounded by the stack.
 *
 * Invariant: the same value gives the same bytes. On failure both
 * directions restore the Lua stack to its height on entry, leave the output
 * untouched and return -1 with a message in err; the only Lua errors they
 * raise are memory errors, and they hold no malloc'd memory of their own
 * across Lua calls (the caller's eddy_buf is the caller's). The decoder
 * checks every length against the bytes left before using it.
 *
 * Ownership: the caller owns the input bytes, the eddy_buf and err. What
 * this module allocates is Lua's (values, the scratch userdata and key
 * sequence). String pointers taken from keys and values stay valid while
 * their table is on the stack: nothing here runs Lua code, so no table
 * changes during an encode, and Lua's collector does not move objects.
 */
#include "state_codec.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Value tags: part of the on-disk format, never renumber. */
#define T_NIL 1
#define T_FALSE 2
#define T_TRUE 3
#define T_INT 4
#define T_FLOAT 5
#define T_STR 6
#define T_NULL 7
#define T_TABLE 8
#define T_ARRAY 9

#define ARENA 256   /* key facts staged without a userdata */
#define SHOW_KEY 32 /* bytes of a string key shown in a path */
#define KEY_INT 'i' /* state key tags */
#define KEY_STR 's'

/* ---- shared ----------------------------------------------------------- */

static size_t put_varint(unsigned char *o, uint64_t u) {
    size_t n = 0;
    for (; u >= 0x80; u >>= 7) o[n++] = (unsigned char)(u | 0x80);
    o[n++] = (unsigned char)u;
    return n;
}

static uint64_t zigzag(lua_Integer i) {
    return ((uint64_t)i << 1) ^ (i < 0 ? UINT64_MAX : 0);
}

static lua_Integer unzigzag(uint64_t u) {
    return (lua_Integer)((u >> 1) ^ (0 - (u & 1)));
}

/* ---- decoder ---------------------------------------------------------- */

typedef struct dec {
    lua_State *L;
    const unsigned char *s, *p, *end; /* record start, cursor, end */
    char *err;
    size_t errlen;
    int depth;
} dec;

__attribute__((format(printf, 2, 3))) static int dfail(dec *d, const char *fmt,
                                                       ...) {
    va_list ap;
    va_start(ap, fmt);
    if (d->errlen > 0) vsnprintf(d->err, d->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

#define AT(d, q) ((size_t)((q) - (d)->s))
#define TRUNCATED(d) dfail(d, "truncated state record")

static int get_varint(dec *d, uint64_t *out) {
    const unsigned char *p = d->p, *start = p;
    uint64_t u = 0;
    for (int shift = 0;; shift += 7) {
        if (p == d->end) return TRUNCATED(d);
        unsigned char c = *p++;
        if (shift == 63 && c > 1)
            return dfail(d, "bad varint at byte %zu", AT(d, start));
        u |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80) break;
    }
    d->p = p;
    *out = u;
    return 0;
}

static int dec_value(dec *d);

/* A key: a boolean, number (not NaN) or string. [-0, +1, m] */
static int dec_key(dec *d) {
    const unsigned char *at = d->p;
    if (at == d->end) return TRUNCATED(d);
    if (*at != T_FALSE && *at != T_TRUE && *at != T_INT && *at != T_FLOAT &&
        *at != T_STR)
        return dfail(d, "bad tag 0x%02x at byte %zu", *at, AT(d, at));
    if (dec_value(d)) return -1;
    if (*at == T_FLOAT && isnan(lua_tonumber(d->L, -1))) {
        lua_pop(d->L, 1);
        return dfail(d, "NaN key at byte %zu", AT(d, at));
    }
    return 0;
}

/* The count and pairs of a table whose tag was at `at`. [-0, +1, m] */
static int dec_table(dec *d, const unsigned char *at) {
    lua_State *L = d->L;
    uint64_t count;
    if (++d->depth > EDDY_CODEC_MAX_DEPTH)
        return dfail(d, "nesting deeper than %d at byte %zu",
                     EDDY_CODEC_MAX_DEPTH, AT(d, at));
    if (get_varint(d, &count)) return -1;
    if (count > (uint64_t)(d->end - d->p) / 2) return TRUNCATED(d);
    if (!lua_checkstack(L, 4)) return dfail(d, "out of Lua stack");
    /* keys 1, 2, ... come first among numbers: guess a sequence then */
    int size = count > INT32_MAX ? INT32_MAX : (int)count;
    int seq = d->end - d->p >= 2 && d->p[0] == T_INT && d->p[1] == 2;
    lua_createtable(L, seq ? size : 0, seq ? 0 : size); /* stack: ... t */
    for (uint64_t i = 0; i < count; i++) {
        if (dec_key(d)) return -1;   /* stack: ... t key */
        if (dec_value(d)) return -1; /* stack: ... t key value */
        lua_rawset(L, -3);           /* stack: ... t */
    }
    if (*at == T_ARRAY) {
        eddy_json_push_array_mt(L); /* stack: ... t mt */
        lua_setmetatable(L, -2);
    }
    d->depth--;
    return 0;
}

/* [-0, +1, m] */
static int dec_value(dec *d) {
    lua_State *L = d->L;
    const unsigned char *at = d->p;
    uint64_t u;
    if (at == d->end) return TRUNCATED(d);
    d->p++;
    switch (*at) {
    case T_NIL:
        lua_pushnil(L);
        return 0;
    case T_FALSE:
        lua_pushboolean(L, 0);
        return 0;
    case T_TRUE:
        lua_pushboolean(L, 1);
        return 0;
    case T_NULL:
        lua_pushlightuserdata(L, NULL);
        return 0;
    case T_INT:
        if (get_varint(d, &u)) return -1;
        lua_pushinteger(L, unzigzag(u));
        return 0;
    case T_FLOAT: {
        double x;
        if (d->end - d->p < 8) return TRUNCATED(d);
        u = 0;
        for (int i = 7; i >= 0; i--) u = u << 8 | d->p[i];
        memcpy(&x, &u, sizeof x);
        d->p += 8;
        lua_pushnumber(L, x);
        return 0;
    }
    case T_STR:
        if (get_varint(d, &u)) return -1;
        if (u > (uint64_t)(d->end - d->p)) return TRUNCATED(d);
        lua_pushlstring(L, (const char *)d->p, (size_t)u);
        d->p += u;
        return 0;
    case T_TABLE:
    case T_ARRAY:
        return dec_table(d, at);
    default:
        return dfail(d, "bad tag 0x%02x at byte %zu", *at, AT(d, at));
    }
}

/* [-0, +(1|0), m] */
int eddy_codec_decode(lua_State *L, const char *s, size_t n, char *err,
                      size_t errlen) {
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    dec d = {L, u, u, u + n, err, errlen, 0};
    int top = lua_gettop(L);
    if (n == 0) return TRUNCATED(&d);
    d.p++;
    if (u[0] != EDDY_CODEC_VERSION)
        return dfail(&d, "unknown state format version %u (this eddy reads %d)",
                     u[0], EDDY_CODEC_VERSION);
    if (!lua_checkstack(L, 4)) return dfail(&d, "out of Lua stack");
    if (dec_value(&d) == 0) {
        if (d.p == d.end) return 0;
        dfail(&d, "trailing bytes");
    }
    lua_settop(L, top);
    return -1;
}

/* ---- encoder: keys ---------------------------------------------------- */

enum { K_BOOL, K_NUM, K_STR }; /* key classes in canonical order */

typedef struct kent { /* what the encoder knows of one key */
    union {
        lua_Integer i; /* K_BOOL (0/1), K_NUM integer */
        double d;      /* K_NUM float */
        const char *s; /* K_STR */
    } u;
    size_t len;          /* K_STR */
    int v;               /* value: stack slot, or index in the key sequence */
    unsigned char cls;   /* K_... */
    unsigned char isint; /* K_NUM */
} kent;

/* Integer i against float f (not NaN), exactly. */
static int cmp_int_float(lua_Integer i, double f) {
    if (f >= 9223372036854775808.0) return -1;
    if (f < -9223372036854775808.0) return 1;
    double fl = floor(f);
    lua_Integer fi = (lua_Integer)fl;
    if (i != fi) return i < fi ? -1 : 1;
    return fl == f ? 0 : -1;
}

static int kcmp(const kent *a, const kent *b) {
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->cls == K_STR) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
        return c ? c : (a->len > b->len) - (a->len < b->len);
    }
    if (a->cls == K_BOOL || (a->isint && b->isint))
        return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    if (!a->isint && !b->isint) return (a->u.d > b->u.d) - (a->u.d < b->u.d);
    return a->isint ? cmp_int_float(a->u.i, b->u.d)
                    : -cmp_int_float(b->u.i, a->u.d);
}

static int kcmp_q(const void *a, const void *b) {
    return kcmp(a, b);
}

static void sort_keys(kent *k, size_t n) {
    if (n > 16) {
        qsort(k, n, sizeof *k, kcmp_q);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        kent t = k[i];
        size_t j = i;
        for (; j > 0 && kcmp(&k[j - 1], &t) > 0; j--) k[j] = k[j - 1];
        k[j] = t;
    }
}

/* ---- encoder: errors -------------------------------------------------- */

typedef struct enc {
    lua_State *L;
    eddy_buf *b;
    const char *root;
    char *err;
    size_t errlen;
    int depth;         /* tables on the path */
    size_t used;       /* arena entries in use */
    const void **path; /* [MAX_DEPTH]: tables on the path */
    const kent **seg;  /* [MAX_DEPTH]: key being written in each of them */
    kent *arena;       /* [ARENA]: shared by nested tables */
} enc;

static int is_name(const char *s, size_t n) {
    static const char *const reserved[] = {
        "and",      "break",  "do",   "else", "elseif", "end",  "false", "for",
        "function", "goto",   "if",   "in",   "local",  "nil",  "not",   "or",
        "repeat",   "return", "then", "true", "until",  "while"};
    if (n == 0 || n > SHOW_KEY || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return 0;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strlen(reserved[i]) == n && memcmp(reserved[i], s, n) == 0)
            return 0;
    return 1;
}

/* Writes k as a path segment in Lua syntax to o (room for 8 + 4 * SHOW_KEY
 * bytes); returns the length. */
static size_t fmt_seg(char *o, const kent *k) {
    if (k->cls == K_BOOL)
        return (size_t)sprintf(o, "[%s]", k->u.i ? "true" : "false");
    if (k->cls == K_NUM && k->isint)
        return (size_t)sprintf(o, "[%lld]", (long long)k->u.i);
    if (k->cls == K_NUM && isinf(k->u.d))
        return (size_t)sprintf(o, "[%s1/0]", k->u.d < 0 ? "-" : "");
    if (k->cls == K_NUM) {
        int n = 0;
        for (int prec = 15; prec <= 17; prec++) {
            n = sprintf(o, "[%.*g", prec, k->u.d);
            if (strtod(o + 1, NULL) == k->u.d) break;
        }
        return (size_t)n + (size_t)sprintf(o + n, "]");
    }
    if (is_name(k->u.s, k->len))
        return (size_t)sprintf(o, ".%.*s", (int)k->len, k->u.s);
    size_t n = 0, show = k->len > SHOW_KEY ? SHOW_KEY : k->len;
    o[n++] = '[', o[n++] = '"';
    for (size_t i = 0; i < show; i++) {
        unsigned char c = (unsigned char)k->u.s[i];
        if (c == '"' || c == '\\')
            o[n++] = '\\', o[n++] = (char)c;
        else if (c == '\n')
            o[n++] = '\\', o[n++] = 'n';
        else if (c < 0x20 || c == 0x7f) /* \ddd: no digit can follow */
            n += (size_t)sprintf(o + n, "\\%03u", c);
        else
            o[n++] = (char)c;
    }
    if (show < k->len) memcpy(o + n, "...", 3), n += 3;
    o[n++] = '"', o[n++] = ']', o[n] = '\0';
    return n;
}

/* Writes "<path>: <reason>" with the first nseg segments of the current
 * path, dropping middle segments if the whole does not fit. */
__attribute__((format(printf, 3, 4), noinline)) static int
efail(enc *e, int nseg, const char *fmt, ...) {
    char reason[128], path[EDDY_CODEC_MAX_DEPTH * (8 + 4 * SHOW_KEY)];
    size_t off[EDDY_CODEC_MAX_DEPTH + 1], n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (e->errlen == 0) return -1;
    for (int i = 0; i < nseg; i++)
        off[i] = n, n += fmt_seg(path + n, e->seg[i]);
    off[nseg] = n;
    const char *root = e->root ? e->root : "value";
    size_t fixed = strlen(root) + 2 + strlen(reason) + 1, from = 0;
    while (from < (size_t)nseg &&
           fixed + n - off[from] + 3 * (from > 0) > e->errlen)
        from++;
    snprintf(e->err, e->errlen, "%s%s%.*s: %s", root, from ? "..." : "",
             (int)(n - off[from]), path + off[from], reason);
    return -1;
}

/* ---- encoder: values -------------------------------------------------- */

/* Room for n more bytes at the end of the output, or NULL. */
static inline unsigned char *room(enc *e, size_t n) {
    eddy_buf *b = e->b;
    if (b->cap - b->len < n && eddy_buf_reserve(b, n)) return NULL;
    return (unsigned char *)b->data + b->len;
}

#define OOM(e) efail(e, (e)->depth, "out of memory")

static int put_tag(enc *e, int tag) {
    unsigned char *o = room(e, 1);
    if (!o) return OOM(e);
    *o = (unsigned char)tag;
    e->b->len++;
    return 0;
}

static int put_int(enc *e, lua_Integer i) {
    unsigned char *o = room(e, 11);
    if (!o) return OOM(e);
    o[0] = T_INT;
    e->b->len += 1 + put_varint(o + 1, zigzag(i));
    return 0;
}

static int put_float(enc *e, double x) {
    unsigned char *o = room(e, 9);
    uint64_t u;
    if (!o) return OOM(e);
    memcpy(&u, &x, sizeof u);
    o[0] = T_FLOAT;
    for (int i = 1; i <= 8; i++, u >>= 8) o[i] = (unsigned char)u;
    e->b->len += 9;
    return 0;
}

static int put_str(enc *e, const char *s, size_t len) {
    unsigned char *o = room(e, 11 + len);
    if (!o) return OOM(e);
    o[0] = T_STR;
    size_t h = 1 + put_varint(o + 1, len);
    memcpy(o + h, s, len);
    e->b->len += h + len;
    return 0;
}

static int put_key(enc *e, const kent *k) {
    if (k->cls == K_STR) return put_str(e, k->u.s, k->len);
    if (k->cls == K_BOOL) return put_tag(e, k->u.i ? T_TRUE : T_FALSE);
    return k->isint ? put_int(e, k->u.i) : put_float(e, k->u.d);
}

/* Records the facts of the key at idx (a key of the table being written,
 * which sits at depth - 1 of the path). [-0, +0, -] */
static int classify(enc *e, int idx, kent *k) {
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        k->cls = K_STR, k->u.s = lua_tolstring(L, idx, &k->len);
        return 0;
    case LUA_TBOOLEAN:
        k->cls = K_BOOL, k->u.i = lua_toboolean(L, idx);
        return 0;
    case LUA_TNUMBER:
        k->cls = K_NUM;
        if ((k->isint = (unsigned char)lua_isinteger(L, idx))) {
            k->u.i = lua_tointeger(L, idx);
            return 0;
        }
        k->u.d = lua_tonumber(L, idx);
        return isnan(k->u.d) ? efail(e, e->depth - 1, "NaN cannot be a key")
                             : 0;
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx))
            return efail(e, e->depth - 1, "eddy.null cannot be a key");
        /* fall through */
    default:
        return efail(e, e->depth - 1, "a %s key cannot be checkpointed",
                     luaL_typename(L, idx));
    }
}

static int enc_value(enc *e, int idx);

/* Writes the header and the n entries of t whose key facts are in k,
 * sorted. Values sit in the stack slots k[i].v, or when keys > 0 are read
 * from t with the key at k[i].v of the sequence at keys. [-0, +0, m] */
static int put_entries(enc *e, int tag, int t, kent *k, size_t n, int keys) {
    lua_State *L = e->L;
    unsigned char *o = room(e, 11);
    if (!o) return OOM(e);
    o[0] = (unsigned char)tag;
    e->b->len += 1 + put_varint(o + 1, n);
    sort_keys(k, n);
    for (size_t i = 0; i < n; i++) {
        e->seg[e->depth - 1] = &k[i];
        if (put_key(e, &k[i])) return -1;
        if (!keys) {
            if (enc_value(e, k[i].v)) return -1;
            continue;
        }
        lua_rawgeti(L, keys, k[i].v); /* stack: ... key */
        lua_rawget(L, t);             /* stack: ... value */
        if (enc_value(e, lua_gettop(L))) return -1;
        lua_pop(L, 1);
    }
    return 0;
}

/* A table too big for the arena: key facts in a userdata, keys in a
 * sequence (values are looked up again), so the stack does not grow with
 * the table. [-0, +0, m] */
static int enc_big(enc *e, int t, int tag) {
    lua_State *L = e->L;
    size_t n = 0;
    lua_pushnil(L); /* stack: ... key */
    for (; lua_next(L, t); n++) lua_pop(L, 1);
    if (n >= INT32_MAX)
        return efail(e, e->depth - 1, "a table of %zu entries is too big", n);
    kent *k = lua_newuserdatauv(L, n * sizeof *k, 0); /* stack: ... scratch */
    lua_createtable(L, (int)n, 0);                    /* ... scratch keys */
    int keys = lua_gettop(L);
    size_t i = 0;
    lua_pushnil(L);          /* stack: ... scratch keys key */
    while (lua_next(L, t)) { /* stack: ... scratch keys key value */
        if (classify(e, -2, &k[i])) return -1;
        k[i].v = (int)(i + 1);
        lua_pushvalue(L, -2); /* stack: ... key value key */
        lua_rawseti(L, keys, k[i++].v);
        lua_pop(L, 1); /* stack: ... scratch keys key */
    }
    return put_entries(e, tag, t, k, n, keys);
}

/* Stages up to cap keys and values of t on the stack, with their facts in
 * k; returns how many (n), cap + 1 if t has more, or -1 for a bad key (the
 * stack is then the caller's to reset). [-0, +2n, m] */
static long stage(enc *e, int t, kent *k, size_t cap) {
    lua_State *L = e->L;
    size_t i = 0;
    int v = lua_gettop(L) + 2; /* slot of the first value */
    lua_pushnil(L);            /* stack: ... key */
    while (lua_next(L, t)) {   /* stack: ... k1 v1 .. key value */
        if (i == cap || (i % 16 == 0 && !lua_checkstack(L, 40)))
            return (long)cap + 1;
        if (classify(e, -2, &k[i])) return -1;
        k[i++].v = v, v += 2;
        lua_pushvalue(L, -2); /* stack: ... k1 v1 .. key value key */
    }
    return (long)i; /* stack: ... k1 v1 .. kn vn */
}

/* Whether t carries the JSON array metatable. [-0, +0, m] */
static int is_array(lua_State *L, int t) {
    if (!lua_getmetatable(L, t)) return 0; /* stack: ... mt */
    eddy_json_push_array_mt(L);            /* stack: ... mt amt */
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* [-0, +0, m] */
static int enc_table(enc *e, int t) {
    lua_State *L = e->L;
    const void *self = lua_topointer(L, t);
    for (int i = 0; i < e->depth; i++)
        if (e->path[i] == self)
            return efail(e, e->depth, "a cycle cannot be checkpointed");
    if (e->depth >= EDDY_CODEC_MAX_DEPTH)
        return efail(e, e->depth,
                     "nesting deeper than %d cannot be checkpointed",
                     EDDY_CODEC_MAX_DEPTH);
    if (!lua_checkstack(L, 8)) return efail(e, e->depth, "out of Lua stack");
    int tag = is_array(L, t) ? T_ARRAY : T_TABLE, base = lua_gettop(L), rc;
    e->path[e->depth++] = self;
    kent *k = e->arena + e->used;
    long n = stage(e, t, k, ARENA - e->used);
    if (n < 0) {
        rc = -1;
    } else if ((size_t)n > ARENA - e->used) {
        lua_settop(L, base);
        rc = enc_big(e, t, tag);
    } else {
        e->used += (size_t)n;
        rc = put_entries(e, tag, t, k, (size_t)n, 0);
        e->used -= (size_t)n;
    }
    lua_settop(L, base);
    e->depth--;
    return rc;
}

/* [-0, +0, m] */
static int enc_value(enc *e, int idx) {
    lua_State *L = e->L;
    size_t n;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return put_tag(e, T_NIL);
    case LUA_TBOOLEAN:
        return put_tag(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return put_int(e, lua_tointeger(L, idx));
        return put_float(e, lua_tonumber(L, idx));
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        return put_str(e, s, n);
    case LUA_TTABLE:
        return enc_table(e, idx);
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) return put_tag(e, T_NULL);
        /* fall through */
    default:
        return efail(e, e->depth, "a %s cannot be checkpointed",
                     luaL_typename(L, idx));
    }
}

/* [-0, +0, m] */
int eddy_codec_encode(lua_State *L, int idx, const char *root, eddy_buf *b,
                      char *err, size_t errlen) {
    const void *path[EDDY_CODEC_MAX_DEPTH];
    const kent *seg[EDDY_CODEC_MAX_DEPTH];
    kent arena[ARENA];
    enc e = {L, b, root, err, errlen, 0, 0, path, seg, arena};
    int top = lua_gettop(L);
    size_t len = b->len;
    idx = lua_absindex(L, idx);
    if (put_tag(&e, EDDY_CODEC_VERSION) == 0 && enc_value(&e, idx) == 0)
        return 0;
    lua_settop(L, top);
    b->len = len;
    return -1;
}

/* ---- state keys ------------------------------------------------------- */

/* [-0, +0, -] */
int eddy_codec_encode_key(lua_State *L, int idx, eddy_buf *b, char *err,
                          size_t errlen) {
    int type = lua_type(L, idx), isint = 0;
    lua_Integer i = type == LUA_TNUMBER ? lua_tointegerx(L, idx, &isint) : 0;
    size_t n = 8;
    const char *s = type == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    if (!s && !isint) {
        if (errlen > 0)
            snprintf(err, errlen,
                     "a state key must be a string or an integer, not %s%s",
                     type == LUA_TNIL ? "" : "a ",
                     type == LUA_TNUMBER ? "non-integral float"
                                         : luaL_typename(L, idx));
        return -1;
    }
    if (eddy_buf_reserve(b, n + 1)) {
        if (errlen > 0) snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *o = b->data + b->len;
    b->len += n + 1;
    *o++ = s ? KEY_STR : KEY_INT;
    if (s) {
        memcpy(o, s, n);
        return 0;
    }
    uint64_t u = (uint64_t)i ^ ((uint64_t)1 << 63); /* sign bit flipped */
    for (int k = 7; k >= 0; k--, u >>= 8) o[k] = (char)(unsigned char)u;
    return 0;
}

/* [-0, +(1|0), m] */
int eddy_codec_decode_key(lua_State *L, const char *s, size_t n) {
    if (n >= 1 && s[0] == KEY_STR) {
        lua_pushlstring(L, s + 1, n - 1);
        return 0;
    }
    if (n != 9 || s[0] != KEY_INT) return -1;
    uint64_t u = 0;
    for (int k = 1; k <= 8; k++) u = u << 8 | (unsigned char)s[k];
    lua_pushinteger(L, (lua_Integer)(u ^ ((uint64_t)1 << 63)));
    return 0;
}

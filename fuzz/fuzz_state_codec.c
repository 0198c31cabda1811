/* fuzz_state_codec.c - libFuzzer target for the state codec
 * (runtime/state_codec.c).
 *
 * The input is used three ways:
 *  1. as a state record: decoding either fails (stack as it was, a known
 *     message) or pushes one value, which must encode; that record must
 *     decode to an equal value that encodes to the very same bytes;
 *  2. as a state key: decoding either fails (nothing pushed) or pushes a
 *     string or an integer that encodes back to the same bytes;
 *  3. as the program of a small generator that builds a Lua value (nil,
 *     booleans, integers, floats of any bits, strings, eddy.null, tables
 *     and array-marked tables with keys of every kind, shared and cyclic
 *     references, functions, userdata, threads, metatables whose
 *     metamethods must never run) and checks every key it makes against
 *     the state key encoding; some tables get hundreds of entries, more
 *     than the encoder stages on its stack. Encoding the value succeeds
 *     whenever it holds nothing that cannot be checkpointed, and then
 *     decodes to an equal value that encodes to the same bytes, as does a
 *     copy of it built in another insertion order. A refused value leaves
 *     the stack and the output buffer as they were, and the message (err of
 *     a size taken from the input) names the root and ends with the
 *     documented reason when there is room for it. */
#include <math.h>

#include "buf.h"
#include "json.h"
#include "state_codec.h"

#include "fuzz_common.h"

#define FZ_CODEC_ERRLEN 256
#define FZ_POOL 64         /* tables the generator can refer to again */
#define FZ_GEN_DEPTH 72    /* deeper tables are made empty */
#define FZ_MAX_WEIGHT 1500 /* values in the value, shared ones counted */

static const char *const fz_codec_dec_errors[] = {
    "truncated state record",
    "unknown state format version ",
    "bad tag 0x",
    "trailing bytes",
    "bad varint at byte ",
    "NaN key at byte ",
    "nesting deeper than 64 at byte ",
    "out of Lua stack",
    NULL};

static const char *const fz_codec_enc_reasons[] = {
    ": a function cannot be checkpointed",
    ": a userdata cannot be checkpointed",
    ": a thread cannot be checkpointed",
    ": a cycle cannot be checkpointed",
    ": nesting deeper than 64 cannot be checkpointed",
    ": a table key cannot be checkpointed",
    ": a function key cannot be checkpointed",
    ": a userdata key cannot be checkpointed",
    ": a thread key cannot be checkpointed",
    ": eddy.null cannot be a key",
    ": NaN cannot be a key",
    ": out of memory",
    ": out of Lua stack",
    NULL};

static int fz_codec_known(const char *msg, const char *const *list,
                          int suffix) {
    size_t n = strlen(msg);
    for (int i = 0; list[i]; i++) {
        size_t k = strlen(list[i]);
        if (suffix ? n >= k && memcmp(msg + n - k, list[i], k) == 0
                   : strncmp(msg, list[i], k) == 0)
            return 1;
    }
    return 0;
}

static int fz_codec_is_array(lua_State *L, int idx) {
    if (!lua_getmetatable(L, idx)) return 0;
    eddy_json_push_array_mt(L);
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* Deep, exact equality: math types, float bits, array marks (other
 * metatables are not part of a state value). Raw access only. */
static int fz_codec_same(lua_State *L, int a, int b, int depth) {
    a = lua_absindex(L, a), b = lua_absindex(L, b);
    int t = lua_type(L, a);
    if (t != lua_type(L, b)) return 0;
    if (t == LUA_TNUMBER) {
        if (lua_isinteger(L, a) != lua_isinteger(L, b)) return 0;
        if (lua_isinteger(L, a))
            return lua_tointeger(L, a) == lua_tointeger(L, b);
        double x = lua_tonumber(L, a), y = lua_tonumber(L, b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    if (t == LUA_TSTRING) {
        size_t n, m;
        const char *x = lua_tolstring(L, a, &n), *y = lua_tolstring(L, b, &m);
        return n == m && memcmp(x, y, n) == 0;
    }
    if (t != LUA_TTABLE) return lua_rawequal(L, a, b);
    if (depth > EDDY_CODEC_MAX_DEPTH + 2) return 0;
    FZ_CHECK(lua_checkstack(L, 8));
    if (fz_codec_is_array(L, a) != fz_codec_is_array(L, b)) return 0;
    size_t na = 0, nb = 0;
    lua_pushnil(L);
    while (lua_next(L, b)) nb++, lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, a)) { /* stack: ... key value */
        na++;
        lua_pushvalue(L, -2);
        lua_rawget(L, b); /* stack: ... key value b[key] */
        int ok = fz_codec_same(L, -2, -1, depth + 1);
        lua_pop(L, 2);
        if (!ok) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return na == nb;
}

/* Pushes a deep copy of the value at idx whose tables are filled in the
 * reverse of their traversal order, without presizing (so they are laid out
 * differently); keeps array marks, drops other metatables. No cycles. */
static void fz_codec_copy(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) {
        lua_pushvalue(L, idx);
        return;
    }
    FZ_CHECK(lua_checkstack(L, 8));
    lua_createtable(L, 0, 0); /* stack: ... copy */
    int dst = lua_gettop(L);
    lua_createtable(L, 0, 0); /* stack: ... copy keys */
    int keys = lua_gettop(L);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++n);
    }
    for (lua_Integer i = n; i >= 1; i--) {
        lua_rawgeti(L, keys, i); /* stack: ... key */
        lua_pushvalue(L, -1);    /* stack: ... key key */
        lua_rawget(L, idx);      /* stack: ... key value */
        fz_codec_copy(L, -1);    /* stack: ... key value copy */
        lua_remove(L, -2);       /* stack: ... key copy */
        lua_rawset(L, dst);
    }
    lua_pop(L, 1); /* stack: ... copy */
    if (fz_codec_is_array(L, idx)) {
        eddy_json_push_array_mt(L);
        lua_setmetatable(L, dst);
    }
}

/* ---- the generator ---------------------------------------------------- */

typedef struct fz_gen {
    lua_State *L;
    const uint8_t *p, *end;
    int pool, npool;      /* stack slot of a sequence of tables made */
    int height[FZ_POOL];  /* their nesting */
    long weight[FZ_POOL]; /* their size, shared tables counted each time */
    int open[FZ_POOL];    /* on the path being built: a cycle if used */
    long total;           /* size of everything built */
    int bad;              /* made something encode may refuse */
    int have_prev;        /* the last integer key and its encoding */
    lua_Integer prev;
    unsigned char prev_enc[9];
    eddy_buf kb; /* scratch for key encodings */
} fz_gen;

static unsigned fz_gen_byte(fz_gen *g) {
    return g->p < g->end ? *g->p++ : 0;
}

static uint64_t fz_gen_u64(fz_gen *g) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)fz_gen_byte(g) << (8 * i);
    return u;
}

static int fz_codec_boom(lua_State *L) {
    return luaL_error(L, "a metamethod ran during a codec call");
}

/* Pushes a function, a full userdata, a thread or a non-null light
 * userdata. */
static void fz_gen_unstorable(fz_gen *g, unsigned what) {
    switch (what % 4) {
    case 0:
        lua_pushcfunction(g->L, fz_codec_boom);
        break;
    case 1:
        lua_newuserdatauv(g->L, 1, 0);
        break;
    case 2:
        lua_newthread(g->L);
        break;
    default:
        lua_pushlightuserdata(g->L, g);
        break;
    }
}

/* The key at the top against the state key encoding. */
static void fz_gen_key_check(fz_gen *g) {
    lua_State *L = g->L;
    char err[128];
    eddy_buf *kb = &g->kb;
    int type = lua_type(L, -1), isint = 0;
    lua_Integer i = type == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
    int valid = type == LUA_TSTRING || isint;
    kb->len = 0;
    FZ_CHECK(eddy_buf_add(kb, "pre", 3) == 0);
    int top = lua_gettop(L);
    err[0] = '\0';
    int rc = eddy_codec_encode_key(L, -1, kb, err, sizeof err);
    FZ_CHECK(lua_gettop(L) == top);
    FZ_CHECKM(rc == (valid ? 0 : -1), err);
    FZ_CHECK(memcmp(kb->data, "pre", 3) == 0);
    if (rc != 0) {
        FZ_CHECK(kb->len == 3 && err[0] != '\0');
        return;
    }
    const char *k = kb->data + 3;
    size_t n = kb->len - 3;
    FZ_CHECK(n >= 1 && k[0] == (type == LUA_TSTRING ? 's' : 'i'));
    FZ_CHECK(eddy_codec_decode_key(L, k, n) == 0);
    FZ_CHECK(lua_gettop(L) == top + 1);
    if (type == LUA_TSTRING) {
        FZ_CHECK(lua_rawequal(L, -1, -2));
    } else {
        FZ_CHECK(n == 9 && lua_isinteger(L, -1) && lua_tointeger(L, -1) == i);
        if (g->have_prev) { /* bytewise order is numeric order */
            int c = memcmp(g->prev_enc, k, 9);
            FZ_CHECKM((c > 0) - (c < 0) == (g->prev > i) - (g->prev < i),
                      "integer state keys out of order");
        }
        g->have_prev = 1, g->prev = i;
        memcpy(g->prev_enc, k, 9);
    }
    lua_pop(L, 1);
}

/* Pushes a table key of any kind (a bad one sets g->bad). */
static void fz_gen_key(fz_gen *g) {
    lua_State *L = g->L;
    unsigned op = fz_gen_byte(g) % 8;
    uint64_t u;
    double x;
    switch (op) {
    case 0:
        lua_pushinteger(L, (int8_t)fz_gen_byte(g));
        break;
    case 1:
        lua_pushinteger(L, (lua_Integer)fz_gen_u64(g));
        break;
    case 2:
        u = fz_gen_u64(g);
        memcpy(&x, &u, sizeof x);
        lua_pushnumber(L, isnan(x) ? (int8_t)(u >> 8) / 4.0 : x);
        break;
    case 3:
        lua_pushboolean(L, fz_gen_byte(g) & 1);
        break;
    case 4:
    case 5: {
        size_t n = fz_gen_byte(g) % 12, left = (size_t)(g->end - g->p);
        if (n > left) n = left;
        lua_pushlstring(L, (const char *)g->p, n);
        g->p += n;
        break;
    }
    case 6: /* a float with an integer value: the same key as the integer */
        lua_pushnumber(L, (double)(int8_t)fz_gen_byte(g));
        break;
    default: {
        unsigned what = fz_gen_byte(g) % 6;
        if (what == 4)
            lua_createtable(L, 0, 0);
        else if (what == 5)
            lua_pushlightuserdata(L, NULL); /* eddy.null */
        else
            fz_gen_unstorable(g, what);
        g->bad = 1;
        break;
    }
    }
    fz_gen_key_check(g);
}

static int fz_gen_value(fz_gen *g, int depth);

/* Pushes a table (array-marked when arr); returns its nesting. */
static int fz_gen_table(fz_gen *g, int depth, int arr) {
    lua_State *L = g->L;
    unsigned b = fz_gen_byte(g), n = b % 8, pre = fz_gen_byte(g);
    int h = 0, slot = -1, big = b >= 0xf8;  /* more entries than the arena */
    if (big) n = 200 + fz_gen_byte(g) % 64; /* ARENA is 256 */
    long start = g->total;
    FZ_CHECK(lua_checkstack(L, 8));
    if (depth >= FZ_GEN_DEPTH ||
        (big && (depth > 3 || g->total > FZ_MAX_WEIGHT)))
        n = 0;
    lua_createtable(L, pre & 1 ? (int)n : 0, pre & 2 ? (int)n : 0);
    int t = lua_gettop(L);
    if (g->npool < FZ_POOL) {
        slot = g->npool++;
        g->open[slot] = 1;
        lua_pushvalue(L, t);
        lua_rawseti(L, g->pool, slot + 1);
    }
    for (unsigned i = 0; i < n; i++) {
        int vh;
        if (arr) {
            vh = fz_gen_value(g, depth + 1);
            lua_rawseti(L, t, (lua_Integer)i + 1);
        } else if (big) { /* cheap keys of every class, mixed */
            if (i < 2)
                lua_pushboolean(L, (int)i);
            else if (i % 3 == 0)
                lua_pushinteger(L, (lua_Integer)i - (lua_Integer)n / 2);
            else if (i % 3 == 1)
                lua_pushnumber(L, i + 0.5);
            else
                lua_pushfstring(L, "k%d", (int)i);
            fz_gen_key_check(g);
            vh = fz_gen_value(g, depth + 1);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushinteger(L, (lua_Integer)i);
            }
            lua_rawset(L, t);
        } else {
            fz_gen_key(g);
            vh = fz_gen_value(g, depth + 1);
            lua_rawset(L, t);
        }
        if (vh > h) h = vh;
    }
    if (arr) {
        eddy_json_push_array_mt(L);
        lua_setmetatable(L, t);
    } else if (pre % 8 == 7) { /* metamethods that must never run */
        lua_createtable(L, 0, 8);
        static const char *const events[] = {
            "__index", "__newindex", "__pairs", "__len",      "__eq",
            "__lt",    "__le",       "__call",  "__tostring", NULL};
        for (int i = 0; events[i]; i++) {
            lua_pushcfunction(L, fz_codec_boom);
            lua_setfield(L, -2, events[i]);
        }
        lua_setmetatable(L, t);
    }
    if (slot >= 0) {
        g->open[slot] = 0;
        g->height[slot] = h + 1;
        g->weight[slot] = g->total - start;
    }
    return h + 1;
}

/* Pushes a value; returns its nesting (tables on the longest path). */
static int fz_gen_value(fz_gen *g, int depth) {
    lua_State *L = g->L;
    unsigned op = fz_gen_byte(g) % 16;
    uint64_t u;
    double x;
    g->total++;
    FZ_CHECK(lua_checkstack(L, 8));
    switch (op) {
    case 0:
        lua_pushnil(L);
        return 0;
    case 1:
        lua_pushboolean(L, 0);
        return 0;
    case 2:
        lua_pushboolean(L, 1);
        return 0;
    case 3:
        lua_pushlightuserdata(L, NULL);
        return 0;
    case 4:
        lua_pushinteger(L, (int8_t)fz_gen_byte(g));
        return 0;
    case 5:
        lua_pushinteger(L, (lua_Integer)fz_gen_u64(g));
        return 0;
    case 6: /* any bits: NaNs, infinities, denormals, -0.0 */
        u = fz_gen_u64(g);
        memcpy(&x, &u, sizeof x);
        lua_pushnumber(L, x);
        return 0;
    case 7: {
        int8_t v = (int8_t)fz_gen_byte(g);
        lua_pushnumber(L, v == 0 ? -0.0 : v / 8.0);
        return 0;
    }
    case 8:
    case 9: {
        size_t n = fz_gen_byte(g) % 40, left = (size_t)(g->end - g->p);
        if (n > left) n = left;
        lua_pushlstring(L, (const char *)g->p, n);
        g->p += n;
        return 0;
    }
    case 10:
    case 11:
    case 12:
        return fz_gen_table(g, depth, 0);
    case 13:
        return fz_gen_table(g, depth, 1);
    case 14: { /* a table made before: shared, or a cycle if still open */
        unsigned i = g->npool ? fz_gen_byte(g) % (unsigned)g->npool : 0;
        if (g->npool == 0 ||
            (!g->open[i] && g->total + g->weight[i] > FZ_MAX_WEIGHT)) {
            lua_pushnil(L);
            return 0;
        }
        lua_rawgeti(L, g->pool, (lua_Integer)i + 1);
        if (g->open[i]) {
            g->bad = 1;
            return 0;
        }
        g->total += g->weight[i];
        return g->height[i];
    }
    default:
        fz_gen_unstorable(g, fz_gen_byte(g));
        g->bad = 1;
        return 0;
    }
}

/* ---- the checks ------------------------------------------------------- */

/* Encodes the value at idx after the bytes already in b; checks the stack
 * and that b is untouched on failure. */
static int fz_codec_encode(lua_State *L, int idx, eddy_buf *b, char *err,
                           size_t errlen) {
    int top = lua_gettop(L);
    size_t len = b->len;
    char *keep = malloc(len + 1);
    FZ_CHECK(keep != NULL);
    memcpy(keep, b->data ? b->data : "", len);
    int rc = eddy_codec_encode(L, idx, "state", b, err, errlen);
    FZ_CHECKM(lua_gettop(L) == top, "encode unbalanced the stack");
    FZ_CHECK(rc == 0 || rc == -1);
    FZ_CHECK(b->len >= len && (len == 0 || memcmp(b->data, keep, len) == 0));
    free(keep);
    if (rc == 0) {
        FZ_CHECK(b->len >= len + 2);
        FZ_CHECK((unsigned char)b->data[len] == EDDY_CODEC_VERSION);
    } else {
        FZ_CHECKM(b->len == len, "a failed encode left output");
    }
    return rc;
}

/* Decodes s[0..n): returns 0 with the value pushed, or -1 with the stack
 * as it was and a known message. */
static int fz_codec_decode(lua_State *L, const char *s, size_t n, char *err) {
    int top = lua_gettop(L);
    memset(err, 0, FZ_CODEC_ERRLEN);
    int rc = eddy_codec_decode(L, s, n, err, FZ_CODEC_ERRLEN);
    FZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        FZ_CHECKM(lua_gettop(L) == top + 1, "decode did not push one value");
        return 0;
    }
    FZ_CHECKM(lua_gettop(L) == top, "a failed decode left values");
    FZ_CHECK(memchr(err, '\0', FZ_CODEC_ERRLEN) != NULL);
    FZ_CHECKM(fz_codec_known(err, fz_codec_dec_errors, 0), err);
    return -1;
}

/* The value at idx (must encode) round-trips: encode, decode to an equal
 * value, encode again to the same bytes. Returns with the stack as it was;
 * the first encoding is left in b. */
static void fz_codec_roundtrip(lua_State *L, int idx, eddy_buf *b, char *err) {
    eddy_buf b2;
    int top = lua_gettop(L);
    idx = lua_absindex(L, idx);
    b->len = 0;
    FZ_CHECKM(fz_codec_encode(L, idx, b, err, FZ_CODEC_ERRLEN) == 0, err);
    FZ_CHECKM(fz_codec_decode(L, b->data, b->len, err) == 0, err);
    FZ_CHECKM(fz_codec_same(L, idx, -1, 0), "decode(encode(v)) differs from v");
    eddy_buf_init(&b2);
    FZ_CHECKM(fz_codec_encode(L, -1, &b2, err, FZ_CODEC_ERRLEN) == 0, err);
    FZ_CHECKM(b2.len == b->len && memcmp(b2.data, b->data, b->len) == 0,
              "decode(encode(v)) encodes to other bytes");
    eddy_buf_free(&b2);
    lua_settop(L, top);
}

static int fz_state_codec_check(lua_State *L, const uint8_t *data,
                                size_t size) {
    char *err = malloc(FZ_CODEC_ERRLEN);
    eddy_buf b, b2;
    FZ_CHECK(err != NULL);
    eddy_buf_init(&b);
    eddy_buf_init(&b2);
    lua_settop(L, 0);
    FZ_CHECK(lua_checkstack(L, 16));

    /* 1. the input as a state record */
    if (fz_codec_decode(L, (const char *)data, size, err) == 0) {
        fz_codec_roundtrip(L, 1, &b, err);
        lua_settop(L, 0);
    }

    /* 2. the input as a state key */
    if (eddy_codec_decode_key(L, (const char *)data, size) == 0) {
        FZ_CHECK(lua_gettop(L) == 1);
        FZ_CHECK(lua_type(L, 1) == LUA_TSTRING || lua_isinteger(L, 1));
        b.len = 0;
        FZ_CHECK(eddy_codec_encode_key(L, 1, &b, err, FZ_CODEC_ERRLEN) == 0);
        FZ_CHECKM(b.len == size && memcmp(b.data, data, size) == 0,
                  "a decoded state key encodes to other bytes");
    }
    FZ_CHECK(lua_gettop(L) <= 1);
    lua_settop(L, 0);

    /* 3. the input as a program that builds a value */
    fz_gen g;
    memset(&g, 0, sizeof g);
    g.L = L, g.p = data, g.end = data + size;
    eddy_buf_init(&g.kb);
    lua_createtable(L, FZ_POOL, 0); /* stack: pool */
    g.pool = 1;
    int h = fz_gen_value(&g, 0); /* stack: pool value */
    if (h > EDDY_CODEC_MAX_DEPTH) g.bad = 1;
    FZ_CHECK(lua_gettop(L) == 2);
    size_t errlen = 1 + (size ? data[size - 1] : 0) % 200;
    char *err2 = malloc(errlen); /* exactly errlen: ASan sees overruns */
    FZ_CHECK(err2 != NULL);
    memset(err2, 'x', errlen);
    FZ_CHECK(eddy_buf_add(&b2, "pre", 3) == 0);
    int rc = fz_codec_encode(L, 2, &b2, err2, errlen);
    FZ_CHECKM(memchr(err2, '\0', errlen) != NULL || rc == 0,
              "an encode error without its NUL");
    if (rc != 0) {
        FZ_CHECKM(g.bad, err2); /* nothing bad in it: must encode */
        if (errlen >= 64) {
            FZ_CHECKM(strncmp(err2, "state", 5) == 0, err2);
            FZ_CHECKM(fz_codec_known(err2, fz_codec_enc_reasons, 1), err2);
        }
    } else {
        fz_codec_roundtrip(L, 2, &b, err);
        FZ_CHECKM(b.len == b2.len - 3 &&
                      memcmp(b.data, b2.data + 3, b.len) == 0,
                  "the same value encoded to other bytes");
        fz_codec_copy(L, 2); /* stack: pool value copy */
        FZ_CHECKM(fz_codec_same(L, 2, 3, 0), "fz_codec_copy is wrong");
        b2.len = 0;
        FZ_CHECKM(fz_codec_encode(L, 3, &b2, err, FZ_CODEC_ERRLEN) == 0, err);
        FZ_CHECKM(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0,
                  "insertion order changed the encoding");
    }
    free(err2);
    eddy_buf_free(&g.kb);
    lua_settop(L, 0);
    eddy_buf_free(&b);
    eddy_buf_free(&b2);
    free(err);
    return 0;
}

#ifndef FZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fz_run_lua(fz_state_codec_check, data, size);
}
#endif

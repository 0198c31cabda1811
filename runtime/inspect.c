/* inspect.c - prints what a state dir holds, for people and scripts.
 *
 * Opens the store read-mostly (never creating it), checks the format
 * marker and walks key ranges: 's'/'o' for state, 'c' for checkpoint
 * records, decoding each value with the state codec and printing it as
 * JSON. NaN and infinities, which state may hold but JSON has no way to
 * write, are printed as null (an infinite key as "inf" or "-inf"); a value
 * JSON still cannot show (two keys written alike; a function never gets
 * here) is printed as an "error" field instead of stopping the listing.
 * Owns a private Lua state for the duration of a call. */
#include "inspect.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "buf.h"
#include "checkpoint.h"
#include "json.h"
#include "opstate.h"
#include "state_codec.h"
#include "store.h"

/* Opens dir's store and checks its format. */
static eddy_store *open_checked(const char *dir, char *err, size_t errlen) {
    eddy_store *s = eddy_store_open(dir, 0, err, errlen);
    if (s == NULL) return NULL;
    eddy_buf v;
    eddy_buf_init(&v);
    int rc = eddy_store_get(s, "mformat", 7, &v, err, errlen);
    if (rc == 1 && (v.len != strlen(EDDY_STATE_FORMAT) ||
                    memcmp(v.data, EDDY_STATE_FORMAT, v.len) != 0)) {
        snprintf(err, errlen,
                 "state dir %s was written by an incompatible "
                 "eddy (this eddy reads \"%s\")",
                 dir, EDDY_STATE_FORMAT);
        rc = -1;
    } else if (rc == 0) {
        snprintf(err, errlen, "state dir %s holds no eddy state", dir);
        rc = -1;
    }
    eddy_buf_free(&v);
    if (rc != 1) {
        eddy_store_close(s);
        return NULL;
    }
    return s;
}

/* Prints the table at the top as one JSON line and pops it. [-1, +0, m] */
static void print_line(lua_State *L, FILE *out, eddy_buf *b) {
    char err[256];
    const int flags = EDDY_JSON_NONFINITE_NULL;
    eddy_buf_reset(b);
    if (eddy_json_encode_flags(L, -1, b, flags, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_setfield(L, -2, "state");
        lua_pushstring(L, err);
        lua_setfield(L, -2, "error");
        eddy_buf_reset(b);
        eddy_json_encode_flags(L, -1, b, flags, err, sizeof err);
    }
    fwrite(b->data, 1, b->len, out);
    fputc('\n', out);
    lua_pop(L, 1);
}

/* Whether the key at idx prints as want. [-0, +0, m] */
static int key_matches(lua_State *L, int idx, const char *want) {
    if (want == NULL) return 1;
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
        return 0;
    lua_pushvalue(L, idx);
    const char *s = lua_tostring(L, -1);
    int m = s && strcmp(s, want) == 0;
    lua_pop(L, 1);
    return m;
}

/* One state record (k, v) as a line; skips it when filtered out. */
static int state_line(lua_State *L, const char *k, size_t kn, const char *v,
                      size_t vn, const char *key, FILE *out, eddy_buf *b) {
    const char *name = k + 1, *nul = memchr(k + 1, '\0', kn - 1);
    lua_createtable(L, 0, 3);
    if (k[0] == EDDY_KEY_STATE && nul) {
        lua_pushlstring(L, name, (size_t)(nul - name));
        if (eddy_codec_decode_key(L, nul + 1, kn - (size_t)(nul + 1 - k)) != 0)
            lua_pushstring(L, "(unreadable key)");
    } else {
        lua_pushlstring(L, name, kn - 1);
        lua_pushlightuserdata(L, NULL); /* JSON null: operator-wide */
    }
    /* stack: line name key */
    if (!key_matches(L, -1, key)) {
        lua_pop(L, 3);
        return 0;
    }
    lua_setfield(L, -3, "key");
    lua_setfield(L, -2, "operator");
    char err[256];
    if (eddy_codec_decode(L, v, vn, err, sizeof err) != 0) {
        lua_pushstring(L, err);
        lua_setfield(L, -2, "error");
    } else {
        lua_setfield(L, -2, "state");
    }
    print_line(L, out, b);
    return 0;
}

/* Walks the records starting with prefix. */
static void walk_state(eddy_store *s, lua_State *L, const char *prefix,
                       size_t pn, const char *op, const char *key, FILE *out,
                       eddy_buf *b) {
    const char *k, *v;
    size_t kn, vn;
    eddy_iter *it = eddy_store_iter(s, prefix, pn);
    while (it && eddy_iter_next(it, &k, &kn, &v, &vn)) {
        if (op && k[0] == EDDY_KEY_OPSTATE && kn != strlen(op) + 1)
            continue; /* another operator whose name starts with op */
        state_line(L, k, kn, v, vn, key, out, b);
    }
    eddy_iter_free(it);
}

int eddy_inspect_state(const char *dir, const char *op, const char *key,
                       FILE *out, char *err, size_t errlen) {
    eddy_store *s = open_checked(dir, err, errlen);
    if (s == NULL) return -1;
    lua_State *L = luaL_newstate();
    eddy_buf b, p;
    eddy_buf_init(&b);
    eddy_buf_init(&p);
    char kinds[2] = {EDDY_KEY_OPSTATE, EDDY_KEY_STATE};
    for (int i = 0; i < 2; i++) {
        eddy_buf_reset(&p);
        eddy_buf_addc(&p, kinds[i]);
        if (op) eddy_buf_add(&p, op, strlen(op) + (kinds[i] == EDDY_KEY_STATE));
        if (key && kinds[i] == EDDY_KEY_OPSTATE) continue; /* has no key */
        walk_state(s, L, p.data, p.len, op, key, out, &b);
    }
    eddy_buf_free(&b);
    eddy_buf_free(&p);
    lua_close(L);
    eddy_store_close(s);
    return 0;
}

int eddy_inspect_checkpoints(const char *dir, FILE *out, char *err,
                             size_t errlen) {
    eddy_store *s = open_checked(dir, err, errlen);
    if (s == NULL) return -1;
    lua_State *L = luaL_newstate();
    eddy_buf b;
    eddy_buf_init(&b);
    const char *k, *v;
    size_t kn, vn;
    char why[256];
    eddy_iter *it = eddy_store_iter(s, "c", 1);
    while (it && eddy_iter_next(it, &k, &kn, &v, &vn)) {
        if (eddy_codec_decode(L, v, vn, why, sizeof why) != 0) {
            lua_createtable(L, 0, 1);
            lua_pushstring(L, why);
            lua_setfield(L, -2, "error");
        }
        print_line(L, out, &b);
    }
    eddy_iter_free(it);
    eddy_buf_free(&b);
    lua_close(L);
    eddy_store_close(s);
    return 0;
}

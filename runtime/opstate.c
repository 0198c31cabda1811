/* opstate.c - keyed operator state: memory tables over the store.
 *
 * Three Lua tables (in the registry) hold a keyed operator's state:
 *   hot:     keys changed since the last checkpoint (key -> state, or
 *            false for a deleted key): exactly what the next one writes;
 *   clean:   keys in memory and unchanged since;
 *   pending: during a checkpoint write, the keys it holds (so a key deleted
 *            in it is not read back from the store before it lands).
 * A key lives in hot or clean, never both. A key in neither is read from
 * the store on first use (lazy rehydration) and becomes hot. The struct
 * owns its refs and scratch buffers; the tables' contents are Lua's. */
#include "opstate.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "state_codec.h"

/* The codec writes an empty table in 3 bytes (version, tag, count 0); no
 * table with an entry is that short. */
#define EMPTY_TABLE_BYTES 3
#define HOT_PRESIZE 65536 /* most slots a new hot table starts with */

struct eddy_opstate {
    char *name;
    size_t namelen;
    int hot_ref, clean_ref, pending_ref;
    int clean_used; /* clean may hold a key (a snapshot or load_all filed
                       one): until then promote has nothing to look up */
    eddy_store *store;
    eddy_buf kbuf, vbuf; /* scratch: store key and value bytes */
};

eddy_opstate *eddy_opstate_new(lua_State *L, const char *name) {
    eddy_opstate *s = calloc(1, sizeof *s);
    if (s == NULL || (s->name = strdup(name)) == NULL) {
        free(s);
        return NULL;
    }
    s->namelen = strlen(name);
    eddy_buf_init(&s->kbuf);
    eddy_buf_init(&s->vbuf);
    lua_newtable(L);
    s->hot_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    s->clean_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->pending_ref = LUA_NOREF;
    return s;
}

void eddy_opstate_free(eddy_opstate *s, lua_State *L) {
    if (s == NULL) return;
    luaL_unref(L, LUA_REGISTRYINDEX, s->hot_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, s->clean_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, s->pending_ref);
    eddy_buf_free(&s->kbuf);
    eddy_buf_free(&s->vbuf);
    free(s->name);
    free(s);
}

void eddy_opstate_set_store(eddy_opstate *s, eddy_store *store) {
    s->store = store;
}

/* t[key] = value at top, pops it. [-1, +0, m] */
static void tset(lua_State *L, int ref, int key) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushvalue(L, key);
    lua_pushvalue(L, -3);
    /* stack: v t key v */
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

/* Pushes t[key]; returns its type. [-0, +1, -] */
static int tget(lua_State *L, int ref, int key) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushvalue(L, key);
    int t = lua_rawget(L, -2);
    lua_copy(L, -1, -2); /* drop the table under the value, no rotation */
    lua_pop(L, 1);
    return t;
}

void eddy_opstate_push_hot(eddy_opstate *s, lua_State *L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->hot_ref);
}

int eddy_opstate_promote(eddy_opstate *s, lua_State *L, int key) {
    if (!s->clean_used) return 0;
    key = lua_absindex(L, key);
    if (tget(L, s->clean_ref, key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    /* stack: st */
    lua_pushvalue(L, -1);
    eddy_opstate_put(s, L, key);
    return 1;
}

void eddy_opstate_put(eddy_opstate *s, lua_State *L, int key) {
    key = lua_absindex(L, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 0);
    }
    tset(L, s->hot_ref, key);
    lua_pushnil(L);
    tset(L, s->clean_ref, key);
}

/* Builds the store key of the key at idx in s->kbuf: 0 or -1 (err). */
static int store_key(eddy_opstate *s, lua_State *L, int key, char *err,
                     size_t n) {
    eddy_buf_reset(&s->kbuf);
    if (eddy_buf_addc(&s->kbuf, EDDY_KEY_STATE) ||
        eddy_buf_add(&s->kbuf, s->name, s->namelen + 1)) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    return eddy_codec_encode_key(L, key, &s->kbuf, err, n);
}

/* Pushes the key's state as of the last completed checkpoint (nil when it
 * has none): from pending, clean or the store. [-0, +1, m] */
static int lookup_cold(eddy_opstate *s, lua_State *L, int key, char *err,
                       size_t n) {
    if (s->pending_ref != LUA_NOREF) {
        int t = tget(L, s->pending_ref, key);
        /* stack: pending[key] */
        int deleted = t == LUA_TBOOLEAN;
        if (t == LUA_TTABLE) {
            lua_pushnil(L);
            if (lua_next(L, -2) == 0)
                deleted = 1;
            else
                lua_pop(L, 2);
        }
        lua_pop(L, 1);
        if (deleted) { /* deleted by the checkpoint being written */
            lua_pushnil(L);
            return 0;
        }
    }
    if (tget(L, s->clean_ref, key) != LUA_TNIL || s->store == NULL) return 0;
    lua_pop(L, 1);
    int found = store_key(s, L, key, err, n) == 0
                    ? eddy_store_get(s->store, s->kbuf.data, s->kbuf.len,
                                     &s->vbuf, err, n)
                    : -1;
    if (found <= 0) {
        lua_pushnil(L);
        return found;
    }
    if (eddy_codec_decode(L, s->vbuf.data, s->vbuf.len, err, n) != 0) {
        lua_pushnil(L);
        return -1;
    }
    return 0;
}

int eddy_opstate_get(eddy_opstate *s, lua_State *L, int key, char *err,
                     size_t errlen) {
    char why[512];
    key = lua_absindex(L, key);
    int t = tget(L, s->hot_ref, key);
    if (t == LUA_TTABLE) return 0;
    lua_pop(L, 1);
    if (t == LUA_TNIL && lookup_cold(s, L, key, why, sizeof why) != 0) {
        lua_pop(L, 1);
        snprintf(err, errlen,
                 "%s: the stored state of this key is unreadable: %s", s->name,
                 why);
        return -1;
    }
    if (t != LUA_TNIL || !lua_istable(L, -1)) {
        if (t == LUA_TNIL) lua_pop(L, 1);
        lua_newtable(L);
    }
    /* stack: st */
    lua_pushvalue(L, -1);
    eddy_opstate_put(s, L, key);
    return 0;
}

void eddy_opstate_fetch(eddy_opstate *s, lua_State *L, int key) {
    char err[768];
    if (eddy_opstate_get(s, L, key, err, sizeof err) != 0)
        luaL_error(L, "%s", err);
}

int eddy_opstate_peek(eddy_opstate *s, lua_State *L, int key, char *err,
                      size_t errlen) {
    key = lua_absindex(L, key);
    int t = tget(L, s->hot_ref, key);
    if (t == LUA_TTABLE) return 0;
    lua_pop(L, 1);
    if (t == LUA_TBOOLEAN) {
        lua_pushnil(L);
        return 0;
    }
    return lookup_cold(s, L, key, err, errlen);
}

size_t eddy_opstate_count(eddy_opstate *s, lua_State *L) {
    size_t n = 0;
    int refs[2] = {s->hot_ref, s->clean_ref};
    for (int i = 0; i < 2; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, refs[i]);
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1))
            n += lua_istable(L, -1);
        lua_pop(L, 1);
    }
    return n;
}

/* Writes one hot entry (key at -2, value at -1) into b, and files it in
 * clean (a live state) or out of memory (a deletion). */
static int snap_one(eddy_opstate *s, lua_State *L, int clean, eddy_batch *b,
                    char *err, size_t n) {
    int key = lua_absindex(L, -2), val = key + 1;
    if (store_key(s, L, key, err, n) != 0) return -1;
    eddy_buf_reset(&s->vbuf);
    char why[400];
    if (lua_istable(L, val) &&
        eddy_codec_encode(L, val, "state", &s->vbuf, why, sizeof why) != 0) {
        if (lua_type(L, key) == LUA_TSTRING)
            snprintf(err, n, "%s: key \"%.100s\": %s", s->name,
                     lua_tostring(L, key), why);
        else
            snprintf(err, n, "%s: key %lld: %s", s->name,
                     (long long)lua_tointeger(L, key), why);
        return -1;
    }
    lua_pushvalue(L, key);
    if (s->vbuf.len <= EMPTY_TABLE_BYTES) { /* deleted, or an empty table */
        eddy_batch_delete(b, s->kbuf.data, s->kbuf.len);
        lua_pushnil(L);
    } else {
        eddy_batch_put(b, s->kbuf.data, s->kbuf.len, s->vbuf.data, s->vbuf.len);
        lua_pushvalue(L, val); /* filed in clean too until the swap */
    }
    lua_rawset(L, clean);
    return 0;
}

/* A snapshot failed half-way: keys stay hot only, out of clean. */
static void unfile(eddy_opstate *s, lua_State *L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->hot_ref);
    int hot = lua_gettop(L);
    for (lua_pushnil(L); lua_next(L, hot); lua_pop(L, 1)) {
        lua_pushnil(L);
        tset(L, s->clean_ref, hot + 1);
    }
    lua_pop(L, 1);
}

int eddy_opstate_snapshot(eddy_opstate *s, lua_State *L, eddy_batch *b,
                          size_t *nkeys, char *err, size_t errlen) {
    size_t n = 0;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->clean_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->hot_ref);
    /* stack: clean hot */
    for (lua_pushnil(L); lua_next(L, top + 2); lua_pop(L, 1), n++) {
        if (snap_one(s, L, top + 1, b, err, errlen) != 0) {
            lua_settop(L, top);
            unfile(s, L);
            return -1;
        }
    }
    lua_settop(L, top);
    if (n > 0) s->clean_used = 1;
    /* the hot table becomes pending; a new one starts, sized for as many
     * keys up to HOT_PRESIZE (the same keys tend to come back: fewer
     * rehashes on the way up, a bounded table if they do not) */
    luaL_unref(L, LUA_REGISTRYINDEX, s->pending_ref);
    s->pending_ref = s->hot_ref;
    lua_createtable(L, 0, n < HOT_PRESIZE ? (int)n : HOT_PRESIZE);
    s->hot_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    *nkeys = n;
    return 0;
}

void eddy_opstate_commit(eddy_opstate *s, lua_State *L) {
    luaL_unref(L, LUA_REGISTRYINDEX, s->pending_ref);
    s->pending_ref = LUA_NOREF;
}

void eddy_opstate_rollback(eddy_opstate *s, lua_State *L) {
    if (s->pending_ref == LUA_NOREF) return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->pending_ref);
    int pending = lua_gettop(L);
    for (lua_pushnil(L); lua_next(L, pending); lua_pop(L, 1)) {
        /* stack: pending key value */
        int key = lua_absindex(L, -2);
        if (tget(L, s->hot_ref, key) == LUA_TNIL) {
            lua_pushvalue(L, -2);
            eddy_opstate_put(s, L, key);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    eddy_opstate_commit(s, L);
}

int eddy_opstate_load_all(eddy_opstate *s, lua_State *L, char *err,
                          size_t errlen) {
    if (s->store == NULL) return 0;
    eddy_buf_reset(&s->kbuf);
    eddy_buf_addc(&s->kbuf, EDDY_KEY_STATE);
    eddy_buf_add(&s->kbuf, s->name, s->namelen + 1);
    size_t pn = s->kbuf.len;
    eddy_iter *it = eddy_store_iter(s->store, s->kbuf.data, pn);
    const char *k, *v;
    size_t kn, vn;
    int rc = 0;
    while (rc == 0 && it && eddy_iter_next(it, &k, &kn, &v, &vn)) {
        if (eddy_codec_decode_key(L, k + pn, kn - pn) != 0) continue;
        int key = lua_gettop(L);
        /* keys in memory (or deleted since) are newer than the store */
        int known = tget(L, s->hot_ref, key) != LUA_TNIL;
        lua_pop(L, 1);
        known = known || tget(L, s->clean_ref, key) != LUA_TNIL;
        lua_pop(L, 1);
        if (!known && s->pending_ref != LUA_NOREF) {
            known = tget(L, s->pending_ref, key) != LUA_TNIL;
            lua_pop(L, 1);
        }
        if (!known) {
            rc = eddy_codec_decode(L, v, vn, err, errlen);
            if (rc == 0) tset(L, s->clean_ref, key);
            s->clean_used = 1;
        }
        lua_pop(L, 1);
    }
    eddy_iter_free(it);
    return rc;
}

void eddy_opstate_push_keys(eddy_opstate *s, lua_State *L) {
    lua_newtable(L);
    int out = lua_gettop(L);
    lua_Integer n = 0;
    int refs[2] = {s->hot_ref, s->clean_ref};
    for (int i = 0; i < 2; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, refs[i]);
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
            if (!lua_istable(L, -1)) continue;
            lua_pushvalue(L, -2);
            lua_rawseti(L, out, ++n);
        }
        lua_pop(L, 1);
    }
}

/* timers.c - timers of one keyed operator, per kind.
 *
 * Times live in a C min-heap (each distinct time once); which keys are due
 * at a time lives in Lua: at[time] = { key = true }, and by_key[key] =
 * { time = true } so ctx:clear() can drop a key's timers. A time whose
 * keys were all cancelled stays in the heap and is skipped when popped.
 * Keys due at one time are handed out sorted, so timers fire in the same
 * order in every run (Lua's table order is not stable across processes).
 * The struct owns the heaps and the refs to its Lua tables. */
#include "timers.h"

#include <lauxlib.h>
#include <stdlib.h>

typedef struct heap {
    int64_t *v;
    size_t n, cap;
} heap;

struct eddy_timers {
    heap h[2];
    int at_ref[2], by_key_ref[2];
    size_t count;
};

static int heap_push(heap *h, int64_t x) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        int64_t *v = realloc(h->v, cap * sizeof *v);
        if (v == NULL) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2] > x) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = x;
    return 0;
}

static int64_t heap_pop(heap *h) {
    int64_t top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c]) c++;
        if (h->v[c] >= x) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = x;
    return top;
}

eddy_timers *eddy_timers_new(lua_State *L) {
    eddy_timers *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    for (int k = 0; k < 2; k++) {
        lua_newtable(L);
        t->at_ref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_newtable(L);
        t->by_key_ref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return t;
}

void eddy_timers_free(eddy_timers *t, lua_State *L) {
    if (t == NULL) return;
    for (int k = 0; k < 2; k++) {
        free(t->h[k].v);
        luaL_unref(L, LUA_REGISTRYINDEX, t->at_ref[k]);
        luaL_unref(L, LUA_REGISTRYINDEX, t->by_key_ref[k]);
    }
    free(t);
}

int64_t eddy_timers_next(const eddy_timers *t, int kind) {
    return t->h[kind].n ? t->h[kind].v[0] : INT64_MAX;
}

size_t eddy_timers_count(const eddy_timers *t) {
    return t->count;
}

/* Pushes set[k1][k2]-style subtable sub of the table at ref, creating it.
 * k is a stack index. [-0, +1, m] */
static void subtable(lua_State *L, int ref, int k, int create) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushvalue(L, k);
    if (lua_rawget(L, -2) == LUA_TNIL && create) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, k);
        lua_pushvalue(L, -2);
        /* stack: tbl sub k sub */
        lua_rawset(L, -4);
    }
    lua_remove(L, -2);
}

int eddy_timers_add(eddy_timers *t, lua_State *L, int kind, int64_t when,
                    int key) {
    key = lua_absindex(L, key);
    lua_pushinteger(L, when);
    int w = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->at_ref[kind]);
    int fresh = lua_rawgeti(L, -1, when) == LUA_TNIL;
    lua_pop(L, 2);
    if (fresh && heap_push(&t->h[kind], when) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    subtable(L, t->at_ref[kind], w, 1);
    /* stack: when keys */
    lua_pushvalue(L, key);
    if (lua_rawget(L, -2) == LUA_TNIL) t->count++;
    lua_pop(L, 1);
    lua_pushvalue(L, key);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    subtable(L, t->by_key_ref[kind], key, 1);
    lua_pushvalue(L, w);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 2);
    return 0;
}

void eddy_timers_cancel(eddy_timers *t, lua_State *L, int kind, int64_t when,
                        int key) {
    key = lua_absindex(L, key);
    lua_pushinteger(L, when);
    int w = lua_gettop(L);
    subtable(L, t->at_ref[kind], w, 0);
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, key);
        if (lua_rawget(L, -2) != LUA_TNIL) t->count--;
        lua_pop(L, 1);
        lua_pushvalue(L, key);
        lua_pushnil(L);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
    subtable(L, t->by_key_ref[kind], key, 0);
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, w);
        lua_pushnil(L);
        lua_rawset(L, -3);
    }
    lua_pop(L, 2);
}

void eddy_timers_clear_key(eddy_timers *t, lua_State *L, int key) {
    key = lua_absindex(L, key);
    for (int kind = 0; kind < 2; kind++) {
        subtable(L, t->by_key_ref[kind], key, 0);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        int times = lua_gettop(L);
        for (lua_pushnil(L); lua_next(L, times); lua_pop(L, 1))
            eddy_timers_cancel(t, L, kind, lua_tointeger(L, -2), key);
        lua_pop(L, 1);
    }
}

/* table.sort comparator: integers before strings, each ascending.
 * [-2, +1, -] */
static int key_less(lua_State *L) {
    int ta = lua_type(L, 1), tb = lua_type(L, 2);
    if (ta != tb)
        lua_pushboolean(L, ta == LUA_TNUMBER);
    else
        lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
    return 1;
}

/* Turns the key set at the top into a sorted array. [-1, +1, m] */
static void sorted_keys(lua_State *L) {
    int set = lua_gettop(L);
    lua_newtable(L);
    lua_Integer n = 0;
    for (lua_pushnil(L); lua_next(L, set); lua_pop(L, 1)) {
        lua_pushvalue(L, -2);
        lua_rawseti(L, set + 1, ++n);
    }
    if (n > 1) {
        lua_getglobal(L, "table");
        lua_getfield(L, -1, "sort");
        lua_pushvalue(L, set + 1);
        lua_pushcfunction(L, key_less);
        /* stack: set arr table sort arr cmp */
        lua_call(L, 2, 0);
        lua_pop(L, 1);
    }
    lua_remove(L, set);
}

int eddy_timers_pop(eddy_timers *t, lua_State *L, int kind, int64_t limit,
                    int64_t *when) {
    heap *h = &t->h[kind];
    while (h->n > 0 && h->v[0] <= limit) {
        int64_t w = heap_pop(h);
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->at_ref[kind]);
        lua_rawgeti(L, -1, w);
        lua_pushnil(L);
        lua_rawseti(L, -3, w); /* at[w] = nil */
        lua_remove(L, -2);
        /* stack: keys-set or nil */
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        sorted_keys(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->by_key_ref[kind]);
        for (lua_Integer i = 1; i <= n; i++) { /* by_key[k][w] = nil */
            lua_rawgeti(L, -2, i);
            if (lua_rawget(L, -2) == LUA_TTABLE) {
                lua_pushnil(L);
                lua_rawseti(L, -2, w);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        t->count -= (size_t)n;
        *when = w;
        return 1;
    }
    return 0;
}

void eddy_timers_snapshot(eddy_timers *t, lua_State *L) {
    static const char *const names[2] = {"processing", "event"};
    lua_createtable(L, 0, 2);
    for (int kind = 0; kind < 2; kind++) {
        lua_newtable(L);
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->at_ref[kind]);
        /* stack: snap out at */
        for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
            lua_pushvalue(L, -1);
            sorted_keys(L);
            if (lua_rawlen(L, -1) == 0) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            /* stack: snap out at time set time arr */
            lua_rawset(L, -6);
        }
        lua_pop(L, 1);
        lua_setfield(L, -2, names[kind]);
    }
}

void eddy_timers_restore(eddy_timers *t, lua_State *L, int idx) {
    static const char *const names[2] = {"processing", "event"};
    idx = lua_absindex(L, idx);
    for (int kind = 0; kind < 2; kind++) {
        if (lua_getfield(L, idx, names[kind]) != LUA_TTABLE) {
            lua_pop(L, 1);
            continue;
        }
        int tbl = lua_gettop(L);
        for (lua_pushnil(L); lua_next(L, tbl); lua_pop(L, 1)) {
            /* stack: tbl time arr */
            if (!lua_isinteger(L, -2) || !lua_istable(L, -1)) continue;
            int64_t w = lua_tointeger(L, -2);
            lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, -1, i);
                eddy_timers_add(t, L, kind, w, -1);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
}

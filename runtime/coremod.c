/* coremod.c - eddy.core: the C core as seen from Lua.
 *
 * Gives Lua code (the job DSL, busted specs, user scripts) the same codec
 * the runtime uses: core.null, core.json_encode, core.json_decode, and the
 * version. Values cross as Lua values; nothing here keeps C state. */
#include "coremod.h"

#include <lauxlib.h>

#include "buf.h"
#include "harness.h"
#include "json.h"
#include "state_codec.h"

/* core.json_decode(s) -> value | nil, err [-1, +(1|2), m] */
static int core_json_decode(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char err[256];
    if (eddy_json_decode(L, s, n, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

/* core.json_encode(v) -> string | nil, err [-1, +(1|2), m] */
static int core_json_encode(lua_State *L) {
    eddy_buf b;
    char err[256];
    luaL_checkany(L, 1);
    eddy_buf_init(&b);
    int rc = eddy_json_encode(L, 1, &b, err, sizeof err);
    if (rc == 0) {
        /* copy out before raising anything: b is C memory */
        lua_pushlstring(L, b.data ? b.data : "", b.len);
        eddy_buf_free(&b);
        return 1;
    }
    eddy_buf_free(&b);
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
}

/* core.array(t) marks t as a JSON array (so an empty one writes []).
 * [-1, +1, m] */
static int core_array(lua_State *L) {
    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    eddy_json_push_array_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

/* core.state_decode(s) -> value | nil, err [-1, +(1|2), m] */
static int core_state_decode(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char err[256];
    if (eddy_codec_decode(L, s, n, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

/* core.state_encode(v) -> string | nil, err [-1, +(1|2), m]
 * The encoder writes into malloc'd memory and may raise memory errors, so
 * the work runs in a protected call of this same function, made a closure
 * whose upvalue points at the buffer (the registered function has none);
 * the buffer is freed here whatever happens, then errors go on. */
static int core_state_encode(lua_State *L) {
    eddy_buf *inner = lua_touserdata(L, lua_upvalueindex(1)), b;
    char err[512];
    if (inner) { /* protected: stack: v */
        if (eddy_codec_encode(L, 1, "state", inner, err, sizeof err) == 0) {
            lua_pushlstring(L, inner->data, inner->len);
            return 1;
        }
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    eddy_buf_init(&b);
    lua_pushlightuserdata(L, &b);
    lua_pushcclosure(L, core_state_encode, 1); /* stack: v encode */
    lua_insert(L, 1);                          /* stack: encode v */
    int rc = lua_pcall(L, 1, 2, 0);            /* stack: s|nil [err] */
    eddy_buf_free(&b);
    if (rc != LUA_OK) return lua_error(L);
    if (lua_isnil(L, 1)) return 2; /* stack: nil err */
    lua_settop(L, 1);              /* stack: s */
    return 1;
}

static const luaL_Reg core_funcs[] = {{"json_decode", core_json_decode},
                                      {"json_encode", core_json_encode},
                                      {"array", core_array},
                                      {"state_encode", core_state_encode},
                                      {"state_decode", core_state_decode},
                                      {NULL, NULL}};

int eddy_open_core(lua_State *L) {
    luaL_newlib(L, core_funcs);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, EDDY_VERSION);
    lua_setfield(L, -2, "version");
    eddy_harness_register(L);
    return 1;
}

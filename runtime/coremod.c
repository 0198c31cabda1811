/* coremod.c - eddy.core: the C core as seen from Lua.
 *
 * Gives Lua code (the job DSL, busted specs, user scripts) the same codec
 * the runtime uses: core.null, core.json_encode, core.json_decode, and the
 * version. Values cross as Lua values; nothing here keeps C state. */
#include "coremod.h"

#include <lauxlib.h>

#include "buf.h"
#include "json.h"

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

static const luaL_Reg core_funcs[] = {{"json_decode", core_json_decode},
                                      {"json_encode", core_json_encode},
                                      {"array", core_array},
                                      {NULL, NULL}};

int eddy_open_core(lua_State *L) {
    luaL_newlib(L, core_funcs);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, EDDY_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}

/* script.c - loads operator and source scripts.
 *
 * A script is compiled as text only (bytecode is refused: it can crash the
 * VM) and runs in its own environment table whose metatable falls back to
 * _G, so two scripts never share globals. The caller owns the returned
 * module table (it stays on the Lua stack or goes into a registry ref). */
#include "script.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

void eddy_script_error(eddy_vm *vm, char *err, size_t errlen) {
    snprintf(err, errlen, "%s", eddy_vm_error(vm));
}

int eddy_script_load(eddy_vm *vm, const char *path, char *err, size_t errlen) {
    lua_State *L = eddy_vm_state(vm);
    if (eddy_vm_load_file(vm, path) != 0) {
        eddy_script_error(vm, err, errlen);
        return -1;
    }
    /* stack: chunk */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    /* stack: chunk env */
    if (lua_setupvalue(L, -2, 1) == NULL) lua_pop(L, 1);
    /* stack: chunk */
    if (eddy_vm_call(vm, 0, 1) != 0) {
        eddy_script_error(vm, err, errlen);
        return -1;
    }
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: the script must return a table (got %s)",
                 path, luaL_typename(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

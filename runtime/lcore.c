/* lcore.c - entry point of the eddy.core shared object for lua5.4. */
#include "coremod.h"

int luaopen_eddy_core(lua_State *L);

int luaopen_eddy_core(lua_State *L) {
    return eddy_open_core(L);
}

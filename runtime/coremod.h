/* coremod.h - the eddy.core Lua module. */
#ifndef EDDY_COREMOD_H
#define EDDY_COREMOD_H

#include <lua.h>

/* Opens eddy.core: pushes its table. The eddy executable preloads it; the
 * shared object build/lib/eddy/core.so exports it as luaopen_eddy_core.
 * [-0, +1, m] */
int eddy_open_core(lua_State *L);

#endif

/* Unit tests for the Lua vm wrapper (vm.c): protected calls, tracebacks,
 * the time limit and the memory cap. */
#include <lauxlib.h>
#include <string.h>

#include "tap.h"
#include "vm.h"

static int run(eddy_vm *vm, const char *code) {
    lua_State *L = eddy_vm_state(vm);
    if (luaL_loadstring(L, code) != LUA_OK) {
        printf("# load error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -2;
    }
    return eddy_vm_call(vm, 0, 0);
}

int main(void) {
    eddy_vm *vm = eddy_vm_new();
    lua_State *L = eddy_vm_state(vm);
    TAP_OK(vm != NULL, "a vm starts");
    TAP_OK(eddy_vm_of(L) == vm, "the vm is found from its lua_State");

    TAP_OK(run(vm, "x = 1 + 1") == 0 && lua_gettop(L) == 0,
           "a good call returns 0 and leaves the stack balanced");
    TAP_OK(run(vm, "local function f() error('boom') end f()") == -1,
           "an error returns -1");
    TAP_OK(strstr(eddy_vm_error(vm), "boom") &&
               strstr(eddy_vm_error(vm), "stack traceback"),
           "the error message carries a traceback");
    TAP_OK(eddy_vm_error_kind(vm) == EDDY_ERR_RUNTIME && lua_gettop(L) == 0,
           "runtime error kind, stack balanced");
    TAP_OK(run(vm, "error({})") == -1 &&
               strstr(eddy_vm_error(vm), "error object is a table"),
           "non-string error objects are described");

    /* With no cap the allocator's inline pool path serves small blocks:
     * its byte count must still match Lua's own, through growth (small
     * and large blocks, reallocations) and a full collection. */
    TAP_OK(run(vm, "big = {} for i = 1, 20000 do big[i] = { i, tostring(i) } "
                   "end s = ('y'):rep(100000)") == 0,
           "a heap of small and large blocks is built");
    size_t lua_bytes =
        (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    TAP_OK(eddy_vm_memory(vm) == lua_bytes,
           "the allocator counts what Lua counts (%zu and %zu bytes)",
           eddy_vm_memory(vm), lua_bytes);
    size_t grown = eddy_vm_memory(vm);
    TAP_OK(run(vm, "big, s = nil, nil") == 0, "the heap is dropped");
    lua_gc(L, LUA_GCCOLLECT);
    lua_bytes =
        (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    TAP_OK(eddy_vm_memory(vm) == lua_bytes && eddy_vm_memory(vm) < grown / 4,
           "after a collection the count falls with Lua's (%zu and %zu bytes)",
           eddy_vm_memory(vm), lua_bytes);

    eddy_vm_set_limits(vm, 100, 0);
    TAP_OK(run(vm, "while true do end") == -1 &&
               eddy_vm_error_kind(vm) == EDDY_ERR_TIMEOUT,
           "a runaway loop is stopped by limits.event_ms");
    TAP_OK(strstr(eddy_vm_error(vm), "limits.event_ms") != NULL,
           "the message names limits.event_ms");
    TAP_OK(strncmp(eddy_vm_error(vm),
                   "[string \"while true do end\"]:1: call took longer",
                   48) == 0,
           "and starts with the file:line of the code that ran too long");
    TAP_OK(
        run(vm, "while true do pcall(function() while true do end end) end") ==
                -1 &&
            eddy_vm_error_kind(vm) == EDDY_ERR_TIMEOUT,
        "the script's own pcall cannot swallow the time limit");
    TAP_OK(run(vm, "local s = 0 for i = 1, 1000 do s = s + i end") == 0,
           "after a timeout the next call runs normally");

    eddy_vm_set_limits(vm, 0, (size_t)8 << 20);
    TAP_OK(
        run(vm,
            "local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(100) .. i end") ==
                -1 &&
            eddy_vm_error_kind(vm) == EDDY_ERR_MEMORY,
        "the memory cap stops a growing heap");
    TAP_OK(strstr(eddy_vm_error(vm), "limits.memory_mb") != NULL,
           "the message names limits.memory_mb");
    lua_gc(L, LUA_GCCOLLECT);
    TAP_OK(run(vm, "local t = {} for i = 1, 100 do t[i] = i end") == 0,
           "small allocations work again after the memory error");
    TAP_OK(eddy_vm_memory(vm) > 0 && eddy_vm_memory(vm) <= ((size_t)8 << 20),
           "memory accounting stays under the cap (%zu bytes)",
           eddy_vm_memory(vm));

    TAP_OK(eddy_vm_load_file(vm, "/nonexistent/x.lua") == -1 &&
               strstr(eddy_vm_error(vm), "cannot open"),
           "loading a missing file reports it");
    eddy_vm_free(vm);
    return tap_done();
}

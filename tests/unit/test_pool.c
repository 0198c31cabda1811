/* Unit tests for the small-block pool of the Lua heap (pool.c): sizes,
 * alignment, reuse of freed blocks, no overlap, many slabs; and a Lua
 * state on it that churns tables and strings of every small size. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "tap.h"
#include "vm.h"

#define N 20000

int main(void) {
    eddy_pool *p = eddy_pool_new();
    TAP_OK(p != NULL, "a pool starts");
    static unsigned char *blk[N];
    static size_t len[N];
    int aligned = 1, filled = 1;
    for (int i = 0; i < N; i++) { /* ~20000 blocks: several slabs */
        len[i] = 1 + (size_t)(i * 7919) % EDDY_POOL_MAX;
        blk[i] = eddy_pool_alloc(p, len[i]);
        aligned &= blk[i] != NULL && ((uintptr_t)blk[i] % EDDY_POOL_GRAIN) == 0;
        memset(blk[i], i & 0xff, len[i]);
    }
    TAP_OK(aligned, "every block is aligned as Lua needs (8 bytes)");
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < len[i]; j++) filled &= blk[i][j] == (i & 0xff);
    TAP_OK(filled, "blocks do not overlap (each keeps its own bytes)");
    void *a = eddy_pool_alloc(p, 40);
    eddy_pool_release(p, a, 40);
    TAP_OK(eddy_pool_alloc(p, 33) == a,
           "a freed block is reused for its class");
    TAP_OK(EDDY_POOL_GRAIN >= sizeof(lua_Number) &&
               EDDY_POOL_GRAIN >= sizeof(void *) && eddy_pool_same(9, 16) &&
               !eddy_pool_same(8, 9) && eddy_pool_same(57, 64) &&
               !eddy_pool_same(56, 57) &&
               eddy_pool_same(EDDY_POOL_MAX - 1, EDDY_POOL_MAX),
           "size classes are 8 bytes wide: a 56-byte table wastes nothing");
    for (int i = 0; i < N; i += 2) eddy_pool_release(p, blk[i], len[i]);
    int reused = 0;
    for (int i = 0; i < N; i += 2) {
        unsigned char *b = eddy_pool_alloc(p, len[i]);
        reused += b != NULL;
        memset(b, 0xee, len[i]);
    }
    filled = 1;
    for (int i = 1; i < N; i += 2)
        for (size_t j = 0; j < len[i]; j++) filled &= blk[i][j] == (i & 0xff);
    TAP_OK(reused == N / 2 && filled,
           "freeing and reallocating half leaves the other half intact");
    eddy_pool_free(p);

    /* A slab is one 2 MiB-aligned range (what a huge page can back): the
     * first blocks of a new pool share its 2 MiB window, up to its end. */
    p = eddy_pool_new();
    uintptr_t first = (uintptr_t)eddy_pool_alloc(p, EDDY_POOL_MAX), last = 0;
    int same = 1;
    for (int i = 1; i < 8000; i++) { /* ~2 MiB of 256-byte blocks */
        uintptr_t b = (uintptr_t)eddy_pool_alloc(p, EDDY_POOL_MAX);
        if (b / (2u << 20) != first / (2u << 20)) break;
        same &= b > last;
        last = b;
    }
    TAP_OK(first % EDDY_POOL_GRAIN == 0 && same &&
               (last - first) / EDDY_POOL_MAX >= 8000 - 16,
           "a slab fills one 2 MiB-aligned window");
    eddy_pool_free(p);

    eddy_vm *vm = eddy_vm_new();
    lua_State *L = eddy_vm_state(vm);
    const char *churn =
        "local keep, s = {}, 0\n"
        "for i = 1, 200000 do\n"
        "  local t = {}\n"
        "  for j = 1, i % 20 do t[j] = j; t['k' .. j] = string.rep('x', j) "
        "end\n"
        "  if i % 7 == 0 then keep[#keep + 1] = t end\n"
        "  if #keep > 500 then keep = {} end\n"
        "end\n"
        "for _, t in ipairs(keep) do for j = 1, #t do s = s + t[j] end end\n"
        "return s\n";
    int ok = luaL_loadstring(L, churn) == LUA_OK && eddy_vm_call(vm, 0, 1) == 0;
    TAP_OK(ok && lua_isinteger(L, -1),
           "a Lua state on the pool churns tables and strings of every size");
    lua_settop(L, 0);
    size_t before = eddy_vm_memory(vm);
    lua_gc(L, LUA_GCCOLLECT);
    TAP_OK(eddy_vm_memory(vm) <= before,
           "the heap count falls after a collection");
    eddy_vm_free(vm);
    return tap_done();
}

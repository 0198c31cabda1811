/* fuzz_common.h - what the fuzz targets share with their corpus replay.
 *
 * Each fuzz/fuzz_<target>.c defines fz_<target>_check(), which runs one
 * input through the runtime and checks invariants that must always hold,
 * and (unless FZ_NO_MAIN is defined) the libFuzzer entry point calling it.
 * tests/unit/test_fuzz_regressions.c includes the three files with
 * FZ_NO_MAIN so `make test` replays fuzz/corpus/ through the very same
 * checks.
 *
 * A violated invariant calls fz_fail: it prints what failed and aborts (so
 * libFuzzer records the input), or, when fz_jmp is set (the unit test),
 * keeps the message in fz_msg and longjmps there. */
#ifndef EDDY_FUZZ_COMMON_H
#define EDDY_FUZZ_COMMON_H

#include <lauxlib.h>
#include <lua.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf *fz_jmp; /* set: failures longjmp here instead of aborting */
static char fz_msg[512];

__attribute__((noreturn, unused)) static void
fz_fail(const char *file, int line, const char *what, const char *detail) {
    snprintf(fz_msg, sizeof fz_msg, "%s:%d: %s%s%s", file, line, what,
             detail && *detail ? " -- " : "", detail ? detail : "");
    if (fz_jmp) longjmp(*fz_jmp, 1);
    fprintf(stderr, "fuzz invariant violated: %s\n", fz_msg);
    fflush(stderr);
    abort();
}

/* FZ_CHECK(cond) or FZ_CHECKM(cond, detail): detail is a string shown too. */
#define FZ_CHECKM(cond, detail)                                                \
    do {                                                                       \
        if (!(cond)) fz_fail(__FILE__, __LINE__, #cond, (detail));             \
    } while (0)
#define FZ_CHECK(cond) FZ_CHECKM(cond, NULL)

/* A small deterministic generator (xorshift64*), seeded from input bytes. */
typedef struct fz_rng {
    uint64_t s;
} fz_rng;

__attribute__((unused)) static void fz_rng_seed(fz_rng *r, const uint8_t *p,
                                                size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    r->s = h ? h : 0x9e3779b97f4a7c15ULL;
}

__attribute__((unused)) static uint32_t fz_rng_next(fz_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 2685821657736338717ULL) >> 32);
}

/* One lua_State per process, made on first use (the fuzz targets). */
__attribute__((unused)) static lua_State *fz_lua(void) {
    static lua_State *L;
    if (L == NULL) {
        L = luaL_newstate();
        if (L == NULL) abort();
    }
    return L;
}

/* Runs one input's check on that state, then collects all garbage: what
 * an input allocates is freed within it, so libFuzzer's leak check (run
 * when an input mallocs more than it frees) stays quiet and cheap, and
 * finds real leaks. */
__attribute__((unused)) static int
fz_run_lua(int (*check)(lua_State *, const uint8_t *, size_t),
           const uint8_t *data, size_t size) {
    lua_State *L = fz_lua();
    int rc = check(L, data, size);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return rc;
}

#endif

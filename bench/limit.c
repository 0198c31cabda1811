/* limit.c - the "limit" program of the benchmark: the bare minimum of each
 * bench case without the runtime, so that eddy's rates can be printed as a
 * ratio to what this machine can do with the same Lua function.
 *
 *   limit pass      IN OUT   each line through f(line) -> line, lines out
 *   limit wordcount IN OUT   f(line, emit): split, lower-case, count per
 *                            word, emit {word=, count=} (JSON out)
 *   limit clicks    IN OUT   each line decoded with eddy's JSON codec,
 *                            f(ev) -> {user=, clicks=} (JSON out)
 *
 * It reads in 1 MiB chunks, splits lines in place with memchr (no copy),
 * calls the Lua function through one lua_pcall per line (no traceback
 * handler, no time limit, no state tables, no checkpoints) and writes
 * through a 1 MiB buffer. Its Lua state is an eddy_vm's (the same
 * allocator pool and generational collector) but every call is a plain
 * lua_pcall. Output bytes equal eddy's for the same job, which bench/run
 * checks. Owns nothing beyond main's lifetime; exits 1 on error.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "vm.h"

#define CHUNK (1 << 20)

static const char *const pass_fn = "return function(line) return line end";

static const char *const wordcount_fn =
    "local counts = {}\n"
    "return function(line, emit)\n"
    "  for word in line:gmatch('%a+') do\n"
    "    word = word:lower()\n"
    "    local n = (counts[word] or 0) + 1\n"
    "    counts[word] = n\n"
    "    emit({ word = word, count = n })\n"
    "  end\n"
    "end\n";

static const char *const clicks_fn = "local counts = {}\n"
                                     "return function(ev)\n"
                                     "  local user = ev.user\n"
                                     "  local n = (counts[user] or 0) + 1\n"
                                     "  counts[user] = n\n"
                                     "  return { user = user, clicks = n }\n"
                                     "end\n";

enum { PASS, WORDCOUNT, CLICKS };

typedef struct lim {
    lua_State *L;
    int mode;
    FILE *out;
    eddy_buf ob;
} lim;

static void die(const char *what, const char *why) {
    fprintf(stderr, "limit: %s: %s\n", what, why);
    exit(1);
}

static void flush_out(lim *m) {
    if (m->ob.len && fwrite(m->ob.data, 1, m->ob.len, m->out) != m->ob.len)
        die("write", "failed");
    eddy_buf_reset(&m->ob);
}

/* Appends the value at idx as a JSON line. [-0, +0, m] */
static void put_json(lim *m, int idx) {
    char err[256];
    if (eddy_json_encode(m->L, idx, &m->ob, err, sizeof err) != 0)
        die("encode", err);
    eddy_buf_addc(&m->ob, '\n');
    if (m->ob.len >= CHUNK) flush_out(m);
}

/* emit(t): the wordcount function's output. [-1, +0, m] */
static int l_emit(lua_State *L) {
    put_json(lua_touserdata(L, lua_upvalueindex(1)), 1);
    return 0;
}

/* One line: the call, and its output. Function at index 1. */
static void one_line(lim *m, const char *s, size_t n) {
    lua_State *L = m->L;
    char err[256];
    lua_pushvalue(L, 1);
    if (m->mode == CLICKS) {
        if (eddy_json_decode(L, s, n, err, sizeof err) != 0) die("decode", err);
    } else {
        lua_pushlstring(L, s, n);
    }
    if (m->mode == WORDCOUNT) lua_pushvalue(L, 2);
    int nargs = m->mode == WORDCOUNT ? 2 : 1, nres = m->mode != WORDCOUNT;
    if (lua_pcall(L, nargs, nres, 0) != LUA_OK)
        die("call", lua_tostring(L, -1));
    if (m->mode == PASS) {
        size_t len;
        const char *r = lua_tolstring(L, -1, &len);
        eddy_buf_add(&m->ob, r, len);
        eddy_buf_addc(&m->ob, '\n');
        if (m->ob.len >= CHUNK) flush_out(m);
    } else if (m->mode == CLICKS) {
        put_json(m, -1);
    }
    lua_settop(L, 2);
}

/* Reads in to the end, handing each line (without '\n') to one_line. */
static void run(lim *m, FILE *in) {
    char *buf = malloc(2 * CHUNK);
    size_t cap = 2 * CHUNK, have = 0, got;
    if (buf == NULL) die("malloc", "out of memory");
    while ((got = fread(buf + have, 1, cap - have, in)) > 0 || have > 0) {
        size_t len = have + got, start = 0;
        char *nl;
        while ((nl = memchr(buf + start, '\n', len - start)) != NULL) {
            one_line(m, buf + start, (size_t)(nl - buf - start));
            start = (size_t)(nl - buf) + 1;
        }
        if (got == 0) { /* a last line without '\n' */
            if (start < len) one_line(m, buf + start, len - start);
            break;
        }
        have = len - start;
        memmove(buf, buf + start, have);
        if (have == cap && (buf = realloc(buf, cap *= 2)) == NULL)
            die("realloc", "out of memory");
    }
    free(buf);
}

int main(int argc, char **argv) {
    static const char *const modes[] = {"pass", "wordcount", "clicks"};
    static const char *const fns[] = {pass_fn, wordcount_fn, clicks_fn};
    lim m = {0};
    m.mode = -1;
    for (int i = 0; argc == 4 && i < 3; i++)
        if (strcmp(argv[1], modes[i]) == 0) m.mode = i;
    if (m.mode < 0) die("usage", "limit pass|wordcount|clicks IN OUT");
    FILE *in = fopen(argv[2], "rb");
    m.out = fopen(argv[3], "wb");
    if (in == NULL || m.out == NULL) die(argv[2], "cannot open input/output");
    eddy_vm *vm = eddy_vm_new(); /* eddy's allocator and collector mode */
    if (vm == NULL) die("vm", "out of memory");
    m.L = eddy_vm_state(vm);
    eddy_buf_init(&m.ob);
    if (luaL_loadstring(m.L, fns[m.mode]) != LUA_OK ||
        lua_pcall(m.L, 0, 1, 0) != LUA_OK)
        die("load", lua_tostring(m.L, -1));
    lua_pushlightuserdata(m.L, &m);
    lua_pushcclosure(m.L, l_emit, 1); /* stack: f emit */
    run(&m, in);
    flush_out(&m);
    if (fclose(m.out) != 0) die(argv[3], "close failed");
    fclose(in);
    eddy_vm_free(vm);
    eddy_buf_free(&m.ob);
    return 0;
}

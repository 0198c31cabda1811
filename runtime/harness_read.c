/* harness_read.c - what a test reads back from a harnessed job: sink
 * outputs and dead letters (captures), a key's state, pending timers,
 * operator counters and restarts; and script reloads.
 *
 * State and timers are copied out of the job's vm as state-codec bytes
 * (in h->scratch) under eddy_vm_protect, then decoded into the test's
 * state: the test gets a copy it may change freely. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "harness_impl.h"
#include "operator.h"
#include "state_codec.h"

/* Pushes capture c's records from index from on: values, sides.
 * [-0, +2, v] */
static void push_records(lua_State *L, harness *h, int c, lua_Integer from) {
    eddy_capture *cap = h->caps[c].cap;
    size_t n = eddy_capture_count(cap);
    char err[256];
    lua_createtable(L, (int)(n > (size_t)from ? n - (size_t)from : 0), 0);
    lua_newtable(L);
    for (size_t i = from > 0 ? (size_t)from : 0; i < n; i++) {
        const char *side;
        if (eddy_capture_get(cap, i, L, &side, err, sizeof err) != 0)
            luaL_error(L, "output %s: %s", h->caps[c].name, err);
        lua_rawseti(L, -3, (lua_Integer)(i + 1 - (size_t)from));
        if (side) {
            lua_pushstring(L, side);
            lua_rawseti(L, -2, (lua_Integer)(i + 1 - (size_t)from));
        }
    }
}

/* h:output(sink [, from]) -> values, sides | nil: what the sink named so
 * (or with that path in the job file) holds, after the first from.
 * [-0, +(2|1), v] */
static int h_output(lua_State *L) {
    harness *h = eddy_harness_check(L);
    int c = eddy_harness_cap(h, luaL_checkstring(L, 2));
    if (c < 0) {
        lua_pushnil(L);
        return 1;
    }
    push_records(L, h, c, luaL_optinteger(L, 3, 0));
    return 2;
}

/* h:dead_letters([from]) -> records [-0, +1, v] */
static int h_dead_letters(lua_State *L) {
    harness *h = eddy_harness_check(L);
    if (h->dlq < 0) {
        lua_newtable(L);
        return 1;
    }
    push_records(L, h, h->dlq, luaL_optinteger(L, 2, 0));
    lua_pop(L, 1);
    return 1;
}

/* h:sinks() -> { name, ... } [-0, +1, m] */
static int h_sinks(lua_State *L) {
    harness *h = eddy_harness_check(L);
    lua_createtable(L, h->ncaps, 0);
    for (int i = 0; i < h->ncaps; i++) {
        lua_pushstring(L, h->caps[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* The operator named name, or raises naming those the job has.
 * [-0, +0, v] */
static eddy_op *find_op(lua_State *L, harness *h, const char *name) {
    eddy_graph *g = eddy_job_graph(h->job);
    eddy_op *op = eddy_graph_op(g, name);
    if (op != NULL) return op;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < eddy_graph_nops(g); i++) {
        if (i > 0) luaL_addstring(&b, ", ");
        luaL_addstring(&b, eddy_op_name(eddy_graph_op_at(g, i)));
    }
    luaL_pushresult(&b);
    luaL_error(L, "no operator named '%s' (operators: %s)", name,
               lua_tostring(L, -1));
    return NULL; /* not reached */
}

typedef struct peek_args {
    harness *h;
    eddy_op *op;
    int timers; /* 0: the state of the key in scratch */
    char err[512];
} peek_args;

/* In the job's vm: the key's state (or the timers) into scratch.
 * [-0, +0, e] */
static int peek_p(lua_State *L, void *ud) {
    peek_args *a = ud;
    eddy_buf *b = &a->h->scratch;
    int top = lua_gettop(L);
    if (a->timers) {
        eddy_op_push_timers(a->op, L);
    } else if (eddy_codec_decode(L, b->data, b->len, a->err, sizeof a->err) ||
               eddy_op_peek_state(a->op, L, top + 1, a->err, sizeof a->err)) {
        return luaL_error(L, "%s", a->err);
    }
    eddy_buf_reset(b);
    if (eddy_codec_encode(L, -1, "state", b, a->err, sizeof a->err) != 0)
        return luaL_error(L, "%s", a->err);
    lua_settop(L, top);
    return 0;
}

/* Runs peek_p for operator name and pushes what it found. [-0, +1, v] */
static int peek(lua_State *L, harness *h, const char *name, int timers) {
    char err[512];
    peek_args a = {h, NULL, timers, {0}};
    a.op = find_op(L, h, name);
    eddy_vm *vm = eddy_job_vm(h->job);
    if (eddy_vm_protect(vm, peek_p, &a) != 0)
        return luaL_error(L, "%s", eddy_vm_error(vm));
    if (eddy_codec_decode(L, h->scratch.data, h->scratch.len, err, sizeof err))
        return luaL_error(L, "%s", err);
    return 1;
}

/* h:state(op [, key]) -> the state (nil when none) [-0, +1, v] */
static int h_state(lua_State *L) {
    harness *h = eddy_harness_live(L);
    char err[512];
    const char *name = luaL_checkstring(L, 2);
    lua_settop(L, 3); /* stack: h op key|nil */
    eddy_buf_reset(&h->scratch);
    if (eddy_codec_encode(L, 3, "key", &h->scratch, err, sizeof err) != 0)
        return luaL_error(L, "state: %s", err);
    return peek(L, h, name, 0);
}

/* h:timers(op) -> { processing = { [ms] = { key, ... } }, event = ... }
 * [-0, +1, v] */
static int h_timers(lua_State *L) {
    harness *h = eddy_harness_live(L);
    return peek(L, h, luaL_checkstring(L, 2), 1);
}

/* h:stats(op) -> { in, out, errors, skipped, dead_letters, late }
 * [-0, +1, v] */
static int h_stats(lua_State *L) {
    harness *h = eddy_harness_live(L);
    const char *name = luaL_checkstring(L, 2);
    eddy_op *op = find_op(L, h, name);
    eddy_op_stats st;
    eddy_op_get_stats(op, &st);
    const char *names[] = {"in",      "out",          "errors",
                           "skipped", "dead_letters", "late"};
    unsigned long long v[] = {st.in,      st.out,          st.errors,
                              st.skipped, st.dead_letters, st.late};
    lua_createtable(L, 0, 6);
    for (int i = 0; i < 6; i++) {
        lua_pushinteger(L, (lua_Integer)v[i]);
        lua_setfield(L, -2, names[i]);
    }
    return 1;
}

typedef struct reload_args {
    eddy_op *op;
    const char *path;
    int rc;
    char err[2048];
} reload_args;

static int reload_p(lua_State *L, void *ud) {
    reload_args *a = ud;
    a->rc = eddy_op_reload_from(a->op, a->path, a->err, sizeof a->err);
    return 0;
}

/* h:reload(op, path) -> true | false, err [-0, +(1|2), v] */
static int h_reload(lua_State *L) {
    harness *h = eddy_harness_running(L);
    const char *name = luaL_checkstring(L, 2);
    reload_args a = {find_op(L, h, name), luaL_checkstring(L, 3), -1, {0}};
    eddy_vm *vm = eddy_job_vm(h->job);
    if (eddy_vm_protect(vm, reload_p, &a) != 0)
        snprintf(a.err, sizeof a.err, "%s", eddy_vm_error(vm));
    eddy_harness_settle(L, h, eddy_job_turn(h->job));
    lua_pushboolean(L, a.rc == 0);
    if (a.rc == 0) return 1;
    lua_pushstring(L, a.err);
    return 2;
}

/* h:restarts() -> n [-0, +1, -] */
static int h_restarts(lua_State *L) {
    harness *h = eddy_harness_check(L);
    lua_pushinteger(L, h->job ? (lua_Integer)eddy_job_restarts(h->job) : 0);
    return 1;
}

const luaL_Reg eddy_harness_read_methods[] = {
    {"output", h_output}, {"dead_letters", h_dead_letters},
    {"sinks", h_sinks},   {"state", h_state},
    {"timers", h_timers}, {"stats", h_stats},
    {"reload", h_reload}, {"restarts", h_restarts},
    {NULL, NULL}};

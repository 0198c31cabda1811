/* source_script.c - a Lua script as a source.
 *
 * The script returns { poll = function(ctx) }. poll is called every
 * interval_ms (or as often as the loop allows when 0), emits with
 * ctx:emit, keeps its position in ctx.state and returns false when it is
 * finished; what it emitted in that last call is still delivered. An error
 * in poll fails the job (a source has no event to dead-letter). The struct
 * owns the registry refs of the module and the ctx. */
#include <ev.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "script.h"
#include "source.h"

typedef struct script_src {
    eddy_source *src;
    eddy_vm *vm;
    struct ev_loop *loop;
    char *path;
    int64_t interval_ms;
    int mod_ref, ctx_ref;
    uint64_t seq; /* events emitted so far: the position */
    ev_idle idle;
    eddy_alarm *timer; /* polls every interval_ms (NULL: as often as
                          the loop allows) */
} script_src;

/* ctx:emit(ev) [-0, +0, e] */
static int sctx_emit(lua_State *L) {
    script_src *ss = lua_touserdata(L, lua_upvalueindex(1));
    if (lua_isnoneornil(L, 2)) return luaL_error(L, "ctx:emit: event is nil");
    lua_settop(L, 2);
    eddy_source_value(ss->src, L, 2, ss->seq++);
    return 0;
}

static void ss_stop_watchers(script_src *ss) {
    ev_idle_stop(ss->loop, &ss->idle);
    if (ss->timer) eddy_alarm_cancel(ss->timer);
}

/* One poll, in protected mode (see eddy_vm_protect). [-0, +0, e] */
static int ss_poll_p(lua_State *L, void *ud) {
    script_src *ss = ud;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ss->mod_ref);
    lua_getfield(L, -1, "poll");
    lua_rawgeti(L, LUA_REGISTRYINDEX, ss->ctx_ref);
    /* stack: mod poll ctx */
    if (eddy_vm_call(ss->vm, 1, 1) != 0) {
        eddy_job_fail(eddy_source_job(ss->src), "source %s: poll failed: %s",
                      eddy_source_name(ss->src), eddy_vm_error(ss->vm));
        lua_pop(L, 1);
        ss_stop_watchers(ss);
        return 0;
    }
    int finished = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (finished) {
        ss_stop_watchers(ss);
        eddy_source_finished(ss->src);
    }
    return 0;
}

static void ss_poll(script_src *ss) {
    if (eddy_source_halted(ss->src)) {
        ss_stop_watchers(ss);
        return;
    }
    if (eddy_vm_protect(ss->vm, ss_poll_p, ss) != 0) {
        eddy_job_fail(eddy_source_job(ss->src), "source %s: %s",
                      eddy_source_name(ss->src), eddy_vm_error(ss->vm));
        ss_stop_watchers(ss);
    }
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents) {
    ss_poll(w->data);
}

static void timer_cb(void *data) {
    script_src *ss = data;
    eddy_clock *clock = eddy_job_clock(eddy_source_job(ss->src));
    eddy_alarm_set(ss->timer, eddy_clock_now(clock) + ss->interval_ms);
    ss_poll(ss);
}

static int ss_start(void *impl, char *err, size_t errlen) {
    script_src *ss = impl;
    ss->loop = eddy_job_loop(eddy_source_job(ss->src));
    eddy_clock *clock = eddy_job_clock(eddy_source_job(ss->src));
    ev_idle_init(&ss->idle, idle_cb);
    ss->idle.data = ss;
    if (ss->interval_ms <= 0) {
        ev_idle_start(ss->loop, &ss->idle);
        return 0;
    }
    if (ss->timer == NULL &&
        (ss->timer = eddy_alarm_new(clock, timer_cb, ss, 0)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    eddy_alarm_set(ss->timer, eddy_clock_now(clock));
    return 0;
}

static void ss_stop(void *impl) {
    script_src *ss = impl;
    if (ss->loop) ss_stop_watchers(ss);
}

static void ss_free(void *impl) {
    script_src *ss = impl;
    lua_State *L = eddy_vm_state(ss->vm);
    luaL_unref(L, LUA_REGISTRYINDEX, ss->mod_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, ss->ctx_ref);
    eddy_alarm_free(ss->timer);
    free(ss->path);
    free(ss);
}

/* The position of a script source is its ctx.state. [-0, +1, m] */
static void ss_snapshot(void *impl, lua_State *L) {
    script_src *ss = impl;
    lua_createtable(L, 0, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ss->ctx_ref);
    lua_getfield(L, -1, "state");
    /* stack: pos ctx state */
    lua_setfield(L, -3, "state");
    lua_pop(L, 1);
    lua_pushinteger(L, (lua_Integer)ss->seq);
    lua_setfield(L, -2, "seq");
}

/* [-0, +0, m] */
static int ss_restore(void *impl, lua_State *L, int idx, char *err,
                      size_t errlen) {
    script_src *ss = impl;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ss->ctx_ref);
    lua_getfield(L, idx, "state");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    /* stack: ctx state */
    lua_setfield(L, -2, "state");
    lua_pop(L, 1);
    lua_getfield(L, idx, "seq");
    ss->seq = (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return 0;
}

static const eddy_source_ops script_ops = {ss_start, ss_stop, ss_free,
                                           ss_snapshot, ss_restore};

/* Loads the script and builds its ctx. */
static int ss_load(script_src *ss, lua_State *L, char *err, size_t errlen) {
    char e[1024];
    const char *name = eddy_source_name(ss->src);
    if (eddy_script_load(ss->vm, ss->path, e, sizeof e) != 0) {
        snprintf(err, errlen, "source %s: %s", name, e);
        return -1;
    }
    if (lua_getfield(L, -1, "poll") != LUA_TFUNCTION) {
        snprintf(err, errlen,
                 "source %s: %s: the script has no poll "
                 "function",
                 name, ss->path);
        lua_pop(L, 2);
        return -1;
    }
    lua_pop(L, 1);
    ss->mod_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 4);
    lua_pushlightuserdata(L, ss);
    lua_pushcclosure(L, sctx_emit, 1);
    lua_setfield(L, -2, "emit");
    lua_newtable(L);
    lua_setfield(L, -2, "state");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    ss->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int eddy_source_script_init(eddy_source *s, lua_State *L, int desc,
                            const char *dir, char *err, size_t errlen) {
    script_src *ss = calloc(1, sizeof *ss);
    if (ss == NULL) return -1;
    ss->src = s;
    ss->vm = eddy_job_vm(eddy_source_job(s));
    ss->mod_ref = ss->ctx_ref = LUA_NOREF;
    lua_getfield(L, desc, "path");
    lua_getfield(L, desc, "interval_ms");
    /* stack: path interval */
    const char *path = lua_tostring(L, -2);
    ss->interval_ms = lua_isnumber(L, -1) ? (int64_t)lua_tonumber(L, -1) : 0;
    char full[4096];
    if (path)
        snprintf(full, sizeof full, "%s%s%s", path[0] == '/' ? "" : dir,
                 path[0] == '/' ? "" : "/", path);
    lua_pop(L, 2);
    if (path == NULL) {
        snprintf(err, errlen, "source %s: a script source needs a path",
                 eddy_source_name(s));
        free(ss);
        return -1;
    }
    ss->path = strdup(full);
    if (ss_load(ss, L, err, errlen) != 0) {
        ss_free(ss);
        return -1;
    }
    eddy_source_attach(s, &script_ops, ss);
    return 0;
}

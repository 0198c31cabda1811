/* source.c - what all sources share: decoding, delivery, bad input.
 *
 * A source kind (source_file.c, source_tcp.c, source_script.c) reads bytes
 * or values on the loop and hands each line here; this module decodes it,
 * records where it came from (for error messages, dead letters and, later,
 * checkpoints) and emits it down the graph. Bad input never stops a job:
 * it is counted, logged and written to the dead letters. The source owns
 * its kind's implementation and its node. */
#include "source.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "clock.h"
#include "format.h"
#include "lines.h"
#include "log.h"

#define DEFAULT_MAX_LINE (1024 * 1024)
#define BAD_LOG_LIMIT 10 /* warn for the first bad lines, then count */

struct eddy_source {
    eddy_job *job;
    eddy_node *node;
    char *name;
    int fmt, done, started;
    const char *unit; /* what a position counts: "byte", "event", "input" */
    size_t max_line;
    const eddy_source_ops *ops;
    void *impl;
    unsigned long long count, bad;
    /* event time */
    int et_ref;    /* field name or function, LUA_NOREF: none */
    int64_t bound; /* max_out_of_orderness_ms */
    int64_t maxts; /* largest event time seen */
    int64_t idle_ms, last_mono;
    ev_timer idle;
};

eddy_node *eddy_source_node(eddy_source *s) {
    return s->node;
}
const char *eddy_source_name(const eddy_source *s) {
    return s->name;
}
int eddy_source_is_done(const eddy_source *s) {
    return s->done;
}
unsigned long long eddy_source_count(const eddy_source *s) {
    return s->count;
}
unsigned long long eddy_source_bad(const eddy_source *s) {
    return s->bad;
}
eddy_job *eddy_source_job(eddy_source *s) {
    return s->job;
}
const char *eddy_source_unit(const eddy_source *s) {
    return s->unit;
}
size_t eddy_source_max_line(const eddy_source *s) {
    return s->max_line;
}

void eddy_source_attach(eddy_source *s, const eddy_source_ops *ops,
                        void *impl) {
    s->ops = ops;
    s->impl = impl;
}

int eddy_source_halted(const eddy_source *s) {
    return eddy_job_stopping(s->job) || eddy_job_failed(s->job);
}

static void bad_input(eddy_source *s, const char *why, const char *raw,
                      size_t len, uint64_t pos) {
    s->bad++;
    if (s->bad <= BAD_LOG_LIMIT)
        eddy_warn("source %s at %s %llu: %s%s", s->name, s->unit,
                  (unsigned long long)pos, why,
                  s->bad == BAD_LOG_LIMIT ? " (further bad lines are only "
                                            "counted and dead-lettered)"
                                          : "");
    lua_State *L = eddy_vm_state(eddy_job_vm(s->job));
    eddy_job_set_origin(s->job, s->name, pos);
    eddy_job_count_event(s->job);
    eddy_job_count_error(s->job);
    eddy_job_dead_letter(s->job, why, NULL, L, 0, 0, raw, len);
}

/* The event time of the event at ev: 0 and *ts, or -1 with why.
 * [-0, +0, -] */
static int event_time(eddy_source *s, lua_State *L, int ev, int64_t *ts,
                      char *why, size_t n) {
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->et_ref);
    if (lua_isstring(L, -1)) {
        const char *field = lua_tostring(L, -1);
        if (!lua_istable(L, ev)) {
            snprintf(why, n, "event_time: the event is a %s, not a table",
                     luaL_typename(L, ev));
            lua_settop(L, top);
            return -1;
        }
        lua_pushvalue(L, -1);
        lua_gettable(L, ev);
        if (lua_isnil(L, -1)) {
            snprintf(why, n, "event_time: the event has no field '%s'", field);
            lua_settop(L, top);
            return -1;
        }
    } else {
        eddy_vm *vm = eddy_job_vm(s->job);
        lua_pushvalue(L, ev);
        if (eddy_vm_call(vm, 1, 1) != 0) {
            snprintf(why, n, "event_time function: %s", eddy_vm_error(vm));
            lua_settop(L, top);
            return -1;
        }
    }
    int isnum = 0;
    lua_Number x = lua_tonumberx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER || x != x) {
        snprintf(why, n,
                 "event_time: a number of milliseconds is needed, "
                 "got %s",
                 luaL_typename(L, -1));
        lua_settop(L, top);
        return -1;
    }
    if (!lua_isinteger(L, -1) &&
        !(x >= (double)INT64_MIN && x < -(double)INT64_MIN)) {
        snprintf(why, n, "event_time: %g is out of range for milliseconds", x);
        lua_settop(L, top);
        return -1;
    }
    *ts = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : (int64_t)x;
    lua_settop(L, top);
    return 0;
}

/* Counts the event at ev (its origin already set) and sends it on with
 * its event time. [-0, +0, m] */
static void emit_event(eddy_source *s, lua_State *L, int ev, int has_ts,
                       int64_t ts) {
    s->count++;
    eddy_job_count_event(s->job);
    eddy_job_set_timestamp(s->job, has_ts, ts);
    eddy_node_emit(s->node, L, ev, NULL);
}

/* Sends the event at ev on with its event time, then moves the watermark.
 * [-0, +0, m] */
static void deliver(eddy_source *s, lua_State *L, int ev, uint64_t pos,
                    const char *raw, size_t rawlen) {
    int64_t ts = 0;
    char why[600];
    eddy_job_set_origin(s->job, s->name, pos);
    if (s->et_ref != LUA_NOREF &&
        event_time(s, L, ev, &ts, why, sizeof why) != 0) {
        s->bad++;
        if (s->bad <= BAD_LOG_LIMIT)
            eddy_warn("source %s at %s %llu: %s", s->name, s->unit,
                      (unsigned long long)pos, why);
        eddy_job_dead_letter(s->job, why, NULL, L, 0, ev, raw, rawlen);
        return;
    }
    emit_event(s, L, ev, s->et_ref != LUA_NOREF, ts);
    if (s->et_ref == LUA_NOREF) return;
    if (s->idle_ms > 0) s->last_mono = eddy_clock_mono_ms();
    if (ts > s->maxts) s->maxts = ts;
    if (s->maxts > EDDY_WM_MIN + s->bound) {
        eddy_node_advance(s->node, s->maxts - s->bound);
        eddy_job_watermark(s->job);
    }
}

void eddy_source_line(eddy_source *s, const char *line, size_t len,
                      uint64_t pos) {
    lua_State *L = eddy_vm_state(eddy_job_vm(s->job));
    char err[256];
    if (eddy_format_decode(L, s->fmt, line, len, err, sizeof err) != 0) {
        char why[300];
        snprintf(why, sizeof why, "invalid JSON: %s", err);
        bad_input(s, why, line, len, pos);
        return;
    }
    deliver(s, L, lua_gettop(L), pos, line, len);
    lua_pop(L, 1);
}

void eddy_source_long_line(eddy_source *s, const char *prefix, size_t plen,
                           size_t len, uint64_t pos) {
    char why[200];
    snprintf(why, sizeof why,
             "line of %zu bytes is longer than "
             "max_line_bytes (%zu); raw holds its first %zu bytes",
             len, s->max_line, plen);
    bad_input(s, why, prefix, plen, pos);
}

void eddy_source_value(eddy_source *s, lua_State *L, int idx, uint64_t pos) {
    deliver(s, L, lua_absindex(L, idx), pos, NULL, 0);
}

void eddy_source_value_at(eddy_source *s, lua_State *L, int idx, uint64_t pos,
                          int64_t ts) {
    eddy_job_set_origin(s->job, s->name, pos);
    emit_event(s, L, lua_absindex(L, idx), 1, ts);
}

void eddy_source_set_watermark(eddy_source *s, int64_t wm) {
    eddy_node_advance(s->node, wm);
    eddy_job_watermark(s->job);
}

/* [-0, +0, m] */
static int to_infinity(lua_State *L, void *ud) {
    eddy_source *s = ud;
    eddy_node_advance(s->node, EDDY_WM_MAX);
    eddy_job_watermark(s->job);
    return 0;
}

void eddy_source_finished(eddy_source *s) {
    if (s->done) return;
    s->done = 1;
    eddy_debug("source %s: finished after %llu events", s->name, s->count);
    if (s->idle_ms > 0) ev_timer_stop(eddy_job_loop(s->job), &s->idle);
    /* a bounded source that ended holds no watermark back: every pending
     * event-time timer downstream fires now */
    eddy_vm *vm = eddy_job_vm(s->job);
    if (eddy_vm_protect(vm, to_infinity, s) != 0)
        eddy_job_fail(s->job, "source %s: %s", s->name, eddy_vm_error(vm));
    eddy_job_source_done(s->job);
}

static int go_idle(lua_State *L, void *ud) {
    eddy_source *s = ud;
    eddy_node_set_idle(s->node, 1);
    eddy_job_watermark(s->job);
    return 0;
}

/* idle_timeout_ms: a source without events for that long stops holding
 * back the watermark (until its next event). */
static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    eddy_source *s = w->data;
    int64_t quiet = eddy_clock_mono_ms() - s->last_mono;
    if (quiet < s->idle_ms) {
        w->repeat = (double)(s->idle_ms - quiet) / 1000.0;
        ev_timer_again(loop, w);
        return;
    }
    eddy_vm *vm = eddy_job_vm(s->job);
    if (eddy_vm_protect(vm, go_idle, s) != 0)
        eddy_job_fail(s->job, "source %s: %s", s->name, eddy_vm_error(vm));
    w->repeat = (double)s->idle_ms / 1000.0;
    ev_timer_again(loop, w);
}

int64_t eddy_source_watermark(const eddy_source *s, int *idle) {
    *idle = eddy_node_idle(s->node);
    return eddy_node_watermark(s->node);
}

/* event_time, max_out_of_orderness_ms, idle_timeout_ms. [-0, +0, -] */
static int read_event_time(eddy_source *s, lua_State *L, int desc, char *err,
                           size_t errlen) {
    int t = lua_getfield(L, desc, "event_time");
    if (t == LUA_TSTRING || t == LUA_TFUNCTION)
        s->et_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    lua_getfield(L, desc, "max_out_of_orderness_ms");
    lua_getfield(L, desc, "idle_timeout_ms");
    s->bound = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 0;
    s->idle_ms = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 2);
    if (s->bound < 0 || s->idle_ms < 0) {
        snprintf(err, errlen,
                 "source %s: max_out_of_orderness_ms and "
                 "idle_timeout_ms must be >= 0",
                 s->name);
        return -1;
    }
    return 0;
}

/* Reads kind-independent fields and dispatches to the kind. */
static int source_init(eddy_source *s, lua_State *L, int desc, const char *dir,
                       char *err, size_t errlen) {
    lua_getfield(L, desc, "format");
    s->fmt = eddy_format_parse(lua_tostring(L, -1));
    lua_getfield(L, desc, "max_line_bytes");
    s->max_line = lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0
                      ? (size_t)lua_tointeger(L, -1)
                      : DEFAULT_MAX_LINE;
    lua_getfield(L, desc, "kind");
    const char *kind = lua_tostring(L, -1);
    /* stack: format max_line kind */
    int rc = -1;
    if (read_event_time(s, L, desc, err, errlen) != 0)
        ;
    else if (s->fmt < 0)
        snprintf(err, errlen, "source %s: unknown format (lines or json)",
                 s->name);
    else if (kind && (!strcmp(kind, "file") || !strcmp(kind, "stdin")))
        rc = eddy_source_file_init(s, L, desc, dir, err, errlen);
    else if (kind && !strcmp(kind, "tcp"))
        rc = eddy_source_tcp_init(s, L, desc, err, errlen);
    else if (kind && !strcmp(kind, "script") && (s->unit = "event"))
        rc = eddy_source_script_init(s, L, desc, dir, err, errlen);
    else if (kind && !strcmp(kind, "memory") && (s->unit = "input"))
        rc = eddy_source_memory_init(s, L, desc, err, errlen);
    else
        snprintf(err, errlen, "source %s: unknown kind %s", s->name,
                 kind ? kind : "(none)");
    lua_pop(L, 3);
    return rc;
}

eddy_source *eddy_source_new(eddy_job *job, lua_State *L, int desc,
                             const char *dir, char *err, size_t errlen) {
    eddy_source *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->job = job;
    s->et_ref = LUA_NOREF;
    s->maxts = EDDY_WM_MIN;
    s->unit = "byte";
    lua_getfield(L, desc, "name");
    s->name = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "source");
    lua_pop(L, 1);
    if (s->name == NULL ||
        (s->node = eddy_node_new(s->name, NULL, s)) == NULL ||
        source_init(s, L, desc, dir, err, errlen) != 0) {
        eddy_source_free(s);
        return NULL;
    }
    return s;
}

int eddy_source_start(eddy_source *s, char *err, size_t errlen) {
    s->started = 1;
    if (s->et_ref != LUA_NOREF && s->idle_ms > 0) {
        s->last_mono = eddy_clock_mono_ms();
        ev_timer_init(&s->idle, idle_cb, (double)s->idle_ms / 1000.0,
                      (double)s->idle_ms / 1000.0);
        s->idle.data = s;
        ev_timer_start(eddy_job_loop(s->job), &s->idle);
        ev_unref(eddy_job_loop(s->job)); /* it alone keeps nothing alive */
    }
    return s->ops->start(s->impl, err, errlen);
}

void eddy_source_stop(eddy_source *s) {
    if (s->ops && s->started) s->ops->stop(s->impl);
    if (s->started && s->et_ref != LUA_NOREF && s->idle_ms > 0 &&
        ev_is_active(&s->idle)) {
        ev_ref(eddy_job_loop(s->job));
        ev_timer_stop(eddy_job_loop(s->job), &s->idle);
    }
}

void eddy_source_free(eddy_source *s) {
    if (s == NULL) return;
    if (s->ops) {
        eddy_source_stop(s);
        s->ops->free(s->impl);
    }
    if (s->et_ref != LUA_NOREF)
        luaL_unref(eddy_vm_state(eddy_job_vm(s->job)), LUA_REGISTRYINDEX,
                   s->et_ref);
    eddy_node_free(s->node);
    free(s->name);
    free(s);
}

void eddy_source_snapshot(eddy_source *s, lua_State *L) {
    int64_t wm = eddy_node_watermark(s->node);
    int keep_wm = wm > EDDY_WM_MIN && wm < EDDY_WM_MAX; /* MAX: it ended */
    if (s->ops->snapshot)
        s->ops->snapshot(s->impl, L);
    else
        lua_pushnil(L);
    if (lua_isnil(L, -1) && keep_wm) { /* a watermark set by hand (tests) */
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "no_position");
    }
    if (!lua_istable(L, -1)) return;
    if (s->maxts != EDDY_WM_MIN) {
        lua_pushinteger(L, s->maxts); /* the watermark resumes from here */
        lua_setfield(L, -2, "max_event_time");
    }
    if (keep_wm) {
        lua_pushinteger(L, wm);
        lua_setfield(L, -2, "watermark");
    }
}

int eddy_source_restore(eddy_source *s, lua_State *L, int idx, char *err,
                        size_t errlen) {
    if (lua_isnil(L, idx)) return 0;
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "max_event_time");
    if (lua_isinteger(L, -1) && s->et_ref != LUA_NOREF) {
        s->maxts = lua_tointeger(L, -1);
        if (s->maxts > EDDY_WM_MIN + s->bound)
            eddy_node_advance(s->node, s->maxts - s->bound);
    }
    lua_getfield(L, idx, "watermark");
    if (lua_isinteger(L, -1)) eddy_node_advance(s->node, lua_tointeger(L, -1));
    lua_getfield(L, idx, "no_position");
    int none = lua_toboolean(L, -1);
    lua_pop(L, 3);
    if (none || s->ops->restore == NULL) return 0;
    return s->ops->restore(s->impl, L, idx, err, errlen);
}

typedef struct drain_args {
    eddy_source *s;
    eddy_lines *lines;
    int some;  /* stop early when the loop is wanted (a signal...) */
    int early; /* it did: lines are left */
    eddy_vm *vm;
    unsigned tick0; /* the watchdog's ticks when the drain began */
} drain_args;

/* Should a drain_some give the loop back now, between two lines? When it
 * is wanted (a signal, a checkpoint written), or after two watchdog ticks
 * (50 to 100 ms), so that timers and periodic checkpoints keep their
 * schedule with a slow operator. Sources keep their order all the same
 * (eddy_job_hold_turn), and a checkpoint records the turn in hand. */
static int yield_now(const drain_args *a) {
    return a->some &&
           (eddy_job_loop_wanted() || eddy_vm_ticks(a->vm) - a->tick0 >= 2);
}

/* Delivers the complete lines buffered (see eddy_source_drain_some).
 * [-0, +0, e] */
static int drain_lines(lua_State *L, void *ud) {
    drain_args *a = ud;
    const char *line;
    size_t len;
    uint64_t pos;
    int r;
    while (!eddy_source_halted(a->s) && !(a->early = yield_now(a)) &&
           (r = eddy_lines_next(a->lines, &line, &len, &pos)) !=
               EDDY_LINES_MORE) {
        if (r == EDDY_LINES_LINE)
            eddy_source_line(a->s, line, len, pos);
        else
            eddy_source_long_line(a->s, line, eddy_lines_prefix_len(a->lines),
                                  len, pos);
    }
    return 0;
}

static int drain(eddy_source *s, eddy_lines *lines, int some) {
    eddy_vm *vm = eddy_job_vm(s->job);
    drain_args a = {s, lines, some, 0, vm, eddy_vm_ticks(vm)};
    if (eddy_vm_protect(vm, drain_lines, &a) != 0)
        eddy_job_fail(s->job, "source %s: %s", s->name, eddy_vm_error(vm));
    if (some) eddy_job_hold_turn(s->job, s, a.early);
    return a.early;
}

void eddy_source_drain(eddy_source *s, eddy_lines *lines) {
    drain(s, lines, 0);
}

int eddy_source_drain_some(eddy_source *s, eddy_lines *lines) {
    return drain(s, lines, 1);
}

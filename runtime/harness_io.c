/* harness_io.c - what a test does to a harnessed job: deliver events,
 * move the clock and watermarks, take checkpoints, reload scripts, and
 * read outputs, state, timers and counters back.
 *
 * Work inside the job's vm runs under eddy_vm_protect, so a memory error
 * there fails the method, not the process. Values cross between the test's
 * Lua state and the job's as state-codec bytes in h->scratch (the
 * harness's, so nothing leaks when either side raises). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"
#include "harness_impl.h"
#include "operator.h"
#include "source.h"
#include "state_codec.h"
#include "store.h"

/* ---- events and time ----------------------------------------------------- */

/* The bound feed after order last (smallest order above it), or NULL. */
static named_feed *next_feed(harness *h, int last) {
    named_feed *best = NULL;
    for (int i = 0; i < h->nfeeds; i++) {
        named_feed *f = &h->feeds[i];
        if (f->order > last && (best == NULL || f->order < best->order))
            best = f;
    }
    return best;
}

/* h:step() -> events, running, busy: one event from each input, in the
 * order of the job's sources, then one turn of the job (file sources read
 * a chunk); events counts what all sources delivered in both (a restart
 * counts as one); busy says the job's loop still has work that needs no
 * clock (a file source in the middle of a long line). [-0, +3, v] */
static int h_step(lua_State *L) {
    harness *h = eddy_harness_running(L);
    eddy_graph *g = eddy_job_graph(h->job);
    unsigned long long before = g ? eddy_graph_source_events(g) : 0;
    unsigned long restarts = eddy_job_restarts(h->job);
    for (named_feed *f = next_feed(h, 0); f; f = next_feed(h, f->order))
        eddy_feed_step(f->feed);
    int run = eddy_job_turn(h->job);
    g = eddy_job_graph(h->job);
    unsigned long long after = g ? eddy_graph_source_events(g) : before;
    lua_Integer moved = eddy_job_restarts(h->job) != restarts ? 1
                        : after > before ? (lua_Integer)(after - before)
                                         : 0;
    eddy_harness_settle(L, h, run);
    lua_pushinteger(L, moved);
    lua_pushboolean(L, run);
    lua_pushboolean(L, run && eddy_job_busy(h->job));
    return 3;
}

/* h:push(ev [, key [, ts]]): into the live input, delivered at once.
 * [-0, +0, v] */
static int h_push(lua_State *L) {
    harness *h = eddy_harness_running(L);
    char err[512];
    luaL_checkany(L, 2);
    int key = lua_isnoneornil(L, 3) ? 0 : 3;
    if (key && lua_type(L, 3) != LUA_TSTRING && !lua_isinteger(L, 3))
        return luaL_error(L, "push: the key must be a string or an integer");
    int has_ts = !lua_isnoneornil(L, 4);
    int64_t ts = has_ts ? luaL_checkinteger(L, 4) : 0;
    named_feed *live = NULL;
    for (int i = 0; i < h->nfeeds; i++)
        if (eddy_feed_live(h->feeds[i].feed)) live = &h->feeds[i];
    if (live == NULL) return luaL_error(L, "push: this job has no live input");
    if (eddy_feed_add(live->feed, L, 2, key, has_ts, ts, err, sizeof err))
        return luaL_error(L, "push: %s", err);
    eddy_feed_step(live->feed);
    eddy_harness_settle(L, h, eddy_job_turn(h->job));
    return 0;
}

/* h:advance_to(ms): processing time moves to ms, firing what comes due.
 * [-0, +0, v] */
static int h_advance_to(lua_State *L) {
    harness *h = eddy_harness_running(L);
    lua_Integer to = luaL_checkinteger(L, 2);
    eddy_clock_advance(eddy_job_clock(h->job), to);
    eddy_harness_settle(L, h, eddy_job_turn(h->job));
    return 0;
}

/* h:now() -> ms [-0, +1, -] */
static int h_now(lua_State *L) {
    harness *h = eddy_harness_check(L);
    lua_pushinteger(L,
                    h->job ? eddy_clock_now(eddy_job_clock(h->job)) : h->now);
    return 1;
}

/* h:next_alarm() -> ms | nil: when something is next due. [-0, +1, -] */
static int h_next_alarm(lua_State *L) {
    harness *h = eddy_harness_running(L);
    int64_t next = eddy_clock_next(eddy_job_clock(h->job));
    if (next == INT64_MAX)
        lua_pushnil(L);
    else
        lua_pushinteger(L, next);
    return 1;
}

typedef struct wm_args {
    eddy_source *src;
    int64_t wm;
} wm_args;

static int set_wm(lua_State *L, void *ud) {
    wm_args *a = ud;
    eddy_source_set_watermark(a->src, a->wm);
    return 0;
}

/* h:watermark(source, ms) [-0, +0, v] */
static int h_watermark(lua_State *L) {
    harness *h = eddy_harness_running(L);
    const char *name = luaL_checkstring(L, 2);
    wm_args a = {eddy_graph_source(eddy_job_graph(h->job), name),
                 luaL_checkinteger(L, 3)};
    if (a.src == NULL) return luaL_error(L, "no source named '%s'", name);
    eddy_vm *vm = eddy_job_vm(h->job);
    if (eddy_vm_protect(vm, set_wm, &a) != 0)
        eddy_job_fail(h->job, "watermark: %s", eddy_vm_error(vm));
    eddy_harness_settle(L, h, eddy_job_turn(h->job));
    return 0;
}

/* ---- checkpoints -----------------------------------------------------------
 */

/* h:checkpoint() -> id [-0, +1, v] */
static int h_checkpoint(lua_State *L) {
    harness *h = eddy_harness_running(L);
    char err[1024];
    if (eddy_job_checkpoint(h->job, err, sizeof err) != 0)
        return luaL_error(L, "checkpoint failed: %s", err);
    lua_pushinteger(L, (lua_Integer)eddy_job_last_checkpoint(h->job));
    return 1;
}

/* Pushes the contents of state_dir/name, or nil. [-0, +1, m] */
static void push_file(lua_State *L, const harness *h, const char *name) {
    char path[4300], buf[256];
    snprintf(path, sizeof path, "%s/%s", h->state_dir, name);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    if (f)
        lua_pushlstring(L, buf, n);
    else
        lua_pushnil(L);
}

/* Builds the snapshot table from the iterator at 1 (in a protected call,
 * so a memory error cannot leak the iterator). [-1, +1, m] */
static int collect(lua_State *L) {
    eddy_iter *it = lua_touserdata(L, 1);
    const char *k, *v;
    size_t kn, vn;
    lua_createtable(L, 0, 3);
    lua_newtable(L);
    for (int i = 1; eddy_iter_next(it, &k, &kn, &v, &vn); i++) {
        lua_createtable(L, 2, 0);
        lua_pushlstring(L, k, kn);
        lua_rawseti(L, -2, 1);
        lua_pushlstring(L, v, vn);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "records");
    return 1;
}

/* h:snapshot() -> { records = { {k, v}, ... }, FORMAT = s, LAST = s }:
 * everything the state dir holds. [-0, +1, v] */
static int h_snapshot(lua_State *L) {
    harness *h = eddy_harness_running(L);
    eddy_iter *it = eddy_store_iter(eddy_job_store(h->job), "", 0);
    if (it == NULL) return luaL_error(L, "out of memory");
    lua_pushcfunction(L, collect);
    lua_pushlightuserdata(L, it);
    int rc = lua_pcall(L, 1, 1, 0);
    eddy_iter_free(it);
    if (rc != LUA_OK) return lua_error(L);
    push_file(L, h, "FORMAT");
    lua_setfield(L, -2, "FORMAT");
    push_file(L, h, "LAST");
    lua_setfield(L, -2, "LAST");
    return 1;
}

/* Writes string field name of the table at idx into state_dir/name. */
static int write_file(lua_State *L, const harness *h, int idx,
                      const char *name) {
    char path[4300];
    size_t n;
    lua_getfield(L, idx, name);
    const char *s =
        lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    snprintf(path, sizeof path, "%s/%s", h->state_dir, name);
    FILE *f = s ? fopen(path, "wb") : NULL;
    int ok = f && fwrite(s, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    lua_pop(L, 1);
    return s == NULL || ok ? 0 : -1;
}

/* h:load_snapshot(snap): before start, the state dir takes what a
 * snapshot holds. [-0, +0, v] */
static int h_load_snapshot(lua_State *L) {
    harness *h = eddy_harness_check(L);
    char err[1024];
    luaL_checktype(L, 2, LUA_TTABLE);
    if (h->phase != H_NEW) return luaL_error(L, "restore before start");
    if (lua_getfield(L, 2, "records") != LUA_TTABLE)
        return luaL_error(L, "restore: not a snapshot of eddy.testing");
    /* every record must be a { key, value } pair of strings: checked
     * before the store is opened, so no error is raised while it is */
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        int ok = lua_rawgeti(L, -1, i) == LUA_TTABLE &&
                 lua_rawgeti(L, -1, 1) == LUA_TSTRING &&
                 lua_rawgeti(L, -2, 2) == LUA_TSTRING;
        if (!ok)
            return luaL_error(L,
                              "restore: record %d of the snapshot is not "
                              "a pair of strings (not a snapshot of "
                              "eddy.testing)",
                              (int)i);
        lua_pop(L, 3);
    }
    eddy_store *st = eddy_store_open(h->state_dir, 1, err, sizeof err);
    eddy_batch *b = eddy_batch_new();
    for (lua_Integer i = 1; st && b && i <= n; i++) {
        size_t kn = 0, vn = 0;
        lua_rawgeti(L, -1, i);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        const char *k = lua_tolstring(L, -2, &kn);
        const char *v = lua_tolstring(L, -1, &vn);
        eddy_batch_put(b, k, kn, v, vn);
        lua_pop(L, 3);
    }
    int rc = st && b ? eddy_store_write(st, b, 1, err, sizeof err) : -1;
    eddy_batch_free(b);
    eddy_store_close(st);
    if (rc == 0 &&
        (write_file(L, h, 2, "FORMAT") || write_file(L, h, 2, "LAST")))
        return luaL_error(L, "restore: cannot write the state dir");
    if (rc != 0)
        return luaL_error(L, "restore: %s", st ? err : "out of memory");
    return 0;
}

const luaL_Reg eddy_harness_io_methods[] = {{"step", h_step},
                                            {"push", h_push},
                                            {"advance_to", h_advance_to},
                                            {"now", h_now},
                                            {"next_alarm", h_next_alarm},
                                            {"watermark", h_watermark},
                                            {"checkpoint", h_checkpoint},
                                            {"snapshot", h_snapshot},
                                            {"load_snapshot", h_load_snapshot},
                                            {NULL, NULL}};

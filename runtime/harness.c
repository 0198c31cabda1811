/* harness.c - the testing kit's C side: a real job driven step by step.
 *
 * core.harness{...} makes a harness in the test's Lua state; h:start()
 * loads the job with a simulated clock and a plan hook that swaps its
 * sources for feeds and its sinks (dead letters too) for captures
 * (memio.h), then recovers and starts it. Nothing runs between two method
 * calls: each one delivers events, moves the clock or takes a checkpoint,
 * and returns. The job has its own vm, so values cross between the two
 * Lua states through the state codec and no table is ever shared.
 * Invariant: feeds and captures outlive the job (a crash frees the job
 * only), so a restored job reads the same inputs and writes into the
 * same outputs, cut back to what its checkpoint committed. The harness
 * owns the job, the feeds, the captures and its temporary directory. */
#include "harness.h"

#include "harness_impl.h"

#include <errno.h>
#include <limits.h>
#include <ftw.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph.h"
#include "job.h"
#include "log.h"
#include "memio.h"
#include "operator.h"
#include "source.h"
#include "state_codec.h"
#include "store.h"

/* ---- helpers ----------------------------------------------------------- */

harness *eddy_harness_check(lua_State *L) {
    return luaL_checkudata(L, 1, HARNESS_MT);
}

static named_feed *add_feed(harness *h, const char *name, int live) {
    named_feed *a = realloc(h->feeds, (size_t)(h->nfeeds + 1) * sizeof *a);
    if (a == NULL) return NULL;
    h->feeds = a;
    named_feed *f = &a[h->nfeeds];
    f->name = strdup(name);
    f->feed = eddy_feed_new(live);
    f->order = 0;
    if (f->name == NULL || f->feed == NULL) {
        free(f->name);
        eddy_feed_free(f->feed);
        return NULL;
    }
    h->nfeeds++;
    return f;
}

/* The capture for the sink name (path may be NULL), made when new. The
 * dead letters (dlq) have a capture of their own even when a sink of the
 * job has their name. */
static int find_cap(harness *h, const char *name, const char *path, int dlq) {
    for (int i = 0; i < h->ncaps; i++)
        if ((i == h->dlq) == dlq && strcmp(h->caps[i].name, name) == 0)
            return i;
    named_cap *a = realloc(h->caps, (size_t)(h->ncaps + 1) * sizeof *a);
    if (a == NULL) return -1;
    h->caps = a;
    named_cap *c = &a[h->ncaps];
    c->name = strdup(name);
    c->path = path ? strdup(path) : NULL;
    c->cap = eddy_capture_new();
    if (c->name == NULL || c->cap == NULL) {
        free(c->name);
        free(c->path);
        eddy_capture_free(c->cap);
        return -1;
    }
    return h->ncaps++;
}

/* A capture by sink name or by the path the job file gave, or -1. */
int eddy_harness_cap(harness *h, const char *name) {
    for (int i = 0; i < h->ncaps; i++)
        if (strcmp(h->caps[i].name, name) == 0 ||
            (h->caps[i].path && strcmp(h->caps[i].path, name) == 0))
            return i;
    return -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
    return remove(path);
}

/* ---- the plan hook (runs in the job's vm) ------------------------------ */

/* A source node at idx: a feed when the test gives one, or when it reads
 * stdin or tcp (no input at all); file sources are read to their end.
 * [-0, +0, m] */
static int hook_source(harness *h, lua_State *L, int idx, int order) {
    lua_getfield(L, idx, "name");
    lua_getfield(L, idx, "kind");
    const char *name = lua_tostring(L, -2), *kind = lua_tostring(L, -1);
    named_feed *nf = NULL;
    for (int i = 0; i < h->nfeeds && name; i++)
        if (strcmp(h->feeds[i].name, name) == 0) nf = &h->feeds[i];
    if (nf == NULL && name && kind &&
        (!strcmp(kind, "stdin") || !strcmp(kind, "tcp")))
        nf = add_feed(h, name, 0);
    lua_pop(L, 2);
    if (nf == NULL) {
        lua_pushboolean(L, 0);
        lua_setfield(L, idx, "follow");
        return 0;
    }
    nf->order = order;
    lua_pushliteral(L, "memory");
    lua_setfield(L, idx, "kind");
    lua_pushlightuserdata(L, nf->feed);
    lua_setfield(L, idx, "feed");
    return 0;
}

/* A sink description at idx becomes a capture (dlq: the dead letters').
 * [-0, +0, m] */
static int hook_sink(harness *h, lua_State *L, int idx, const char *dflt,
                     int dlq) {
    lua_getfield(L, idx, "name");
    lua_getfield(L, idx, "path");
    const char *name = lua_tostring(L, -2);
    int c = find_cap(h, name ? name : dflt, lua_tostring(L, -1), dlq);
    lua_pop(L, 2);
    if (c < 0) return -1;
    lua_pushliteral(L, "memory");
    lua_setfield(L, idx, "kind");
    lua_pushlightuserdata(L, h->caps[c].cap);
    lua_setfield(L, idx, "capture");
    return c;
}

static int plan_hook(void *ud, lua_State *L, int plan, char *err,
                     size_t errlen) {
    harness *h = ud;
    for (int i = 0; i < h->nfeeds; i++) h->feeds[i].order = 0;
    lua_getfield(L, plan, "nodes");
    int nodes = lua_gettop(L), rc = 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, nodes);
    for (lua_Integer i = 1; i <= n && rc == 0; i++) {
        lua_rawgeti(L, nodes, i);
        lua_getfield(L, -1, "type");
        const char *type = lua_tostring(L, -1);
        /* stack: nodes node type */
        if (type && strcmp(type, "source") == 0)
            rc = hook_source(h, L, nodes + 1, (int)i);
        else if (type && strcmp(type, "sink") == 0)
            rc = hook_sink(h, L, nodes + 1, "sink", 0) < 0 ? -1 : 0;
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, plan, "dead_letter") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 3);
        lua_pushliteral(L, "json");
        lua_setfield(L, -2, "format");
        lua_pushvalue(L, -1);
        lua_setfield(L, plan, "dead_letter");
    }
    if (rc == 0 &&
        (h->dlq = hook_sink(h, L, lua_gettop(L), "dead_letters", 1)) < 0)
        rc = -1;
    lua_pop(L, 1);
    if (rc != 0) snprintf(err, errlen, "out of memory");
    /* the first unknown name in sorted order: the feeds were made in the
     * order of a Lua table's iteration, which changes from run to run */
    const char *unknown = NULL;
    for (int i = 0; i < h->nfeeds && rc == 0; i++)
        if (h->feeds[i].order == 0 && !eddy_feed_live(h->feeds[i].feed) &&
            (unknown == NULL || strcmp(h->feeds[i].name, unknown) < 0))
            unknown = h->feeds[i].name;
    if (unknown != NULL) {
        snprintf(err, errlen, "inputs: the job has no source named '%s'",
                 unknown);
        rc = -1;
    }
    return rc;
}

/* ---- life ---------------------------------------------------------------- */

/* Loads and begins the job (clock at start_ms). 0 or -1 with err. */
static int h_boot(harness *h, int64_t start_ms, char *err, size_t errlen) {
    eddy_job_config cfg = {h->job_file, h->lua_dir, h->state_dir, 0,
                           1,           start_ms,   plan_hook,    h};
    h->job = eddy_job_load(&cfg, err, errlen);
    if (h->job == NULL) return -1;
    if (eddy_job_begin(h->job, err, errlen) != 0) {
        eddy_job_free(h->job);
        h->job = NULL;
        return -1;
    }
    h->phase = H_RUNNING;
    return 0;
}

/* Raises the job's failure once it failed for good. [-0, +0, v] */
void eddy_harness_settle(lua_State *L, harness *h, int running) {
    if (running || h->phase != H_RUNNING || !eddy_job_failed(h->job)) return;
    h->exit_code = eddy_job_end(h->job);
    h->phase = H_ENDED;
    luaL_error(L, "the job failed: %s", eddy_job_failure(h->job));
}

harness *eddy_harness_live(lua_State *L) {
    harness *h = eddy_harness_check(L);
    if (h->job == NULL || eddy_job_graph(h->job) == NULL)
        luaL_error(L, "the job is not running");
    return h;
}

harness *eddy_harness_running(lua_State *L) {
    harness *h = eddy_harness_check(L);
    if (h->phase != H_RUNNING)
        luaL_error(L, "the job is not running (%s)",
                   h->phase == H_NEW       ? "not started"
                   : h->phase == H_CRASHED ? "crashed: restore it first"
                                           : "it has ended");
    return h;
}

/* h:start() [-0, +0, v] */
static int h_start(lua_State *L) {
    harness *h = eddy_harness_check(L);
    char err[4096];
    if (h->phase != H_NEW) return luaL_error(L, "the job was started already");
    if (h->job_file == NULL) return luaL_error(L, "no job file");
    if (h_boot(h, h->now, err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    /* overdue processing-time timers fire right after recovery, as in a
     * real restart (the simulated clock fires alarms only as it moves) */
    eddy_clock *c = eddy_job_clock(h->job);
    eddy_clock_advance(c, eddy_clock_now(c));
    eddy_harness_settle(L, h, eddy_job_turn(h->job));
    return 0;
}

/* h:crash(): as SIGKILL. [-0, +0, v] */
static int h_crash(lua_State *L) {
    harness *h = eddy_harness_running(L);
    h->now = eddy_clock_now(eddy_job_clock(h->job));
    eddy_job_free(h->job);
    h->job = NULL;
    h->phase = H_CRASHED;
    return 0;
}

/* h:restore(): runs the job again from its last checkpoint; the clock
 * goes on from where it was. [-0, +0, v] */
static int h_restore(lua_State *L) {
    harness *h = eddy_harness_check(L);
    char err[4096];
    if (h->phase == H_RUNNING) h_crash(L);
    if (h->phase == H_ENDED) {
        h->now = eddy_clock_now(eddy_job_clock(h->job));
        eddy_job_free(h->job);
        h->job = NULL;
    }
    if (h_boot(h, h->now, err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    /* overdue processing-time timers fire right after recovery, as in a
     * real restart (the simulated clock fires alarms only as it moves) */
    eddy_clock *c = eddy_job_clock(h->job);
    eddy_clock_advance(c, eddy_clock_now(c));
    eddy_harness_settle(L, h, eddy_job_turn(h->job));
    return 0;
}

/* h:finish() -> exit code, failure [-0, +2, v] */
static int h_finish(lua_State *L) {
    harness *h = eddy_harness_check(L);
    if (h->phase == H_RUNNING) {
        h->exit_code = eddy_job_end(h->job);
        h->phase = H_ENDED;
    }
    lua_pushinteger(L, h->exit_code);
    if (h->job && h->exit_code != 0)
        lua_pushstring(L, eddy_job_failure(h->job));
    else
        lua_pushnil(L);
    return 2;
}

static int h_gc(lua_State *L) {
    harness *h = eddy_harness_check(L);
    eddy_job_free(h->job);
    h->job = NULL;
    for (int i = 0; i < h->nfeeds; i++) {
        free(h->feeds[i].name);
        eddy_feed_free(h->feeds[i].feed);
    }
    for (int i = 0; i < h->ncaps; i++) {
        free(h->caps[i].name);
        free(h->caps[i].path);
        eddy_capture_free(h->caps[i].cap);
    }
    free(h->feeds);
    free(h->caps);
    h->feeds = NULL;
    h->caps = NULL;
    h->nfeeds = h->ncaps = 0;
    if (h->tmp) nftw(h->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(h->tmp);
    free(h->job_file);
    free(h->lua_dir);
    free(h->state_dir);
    h->tmp = h->job_file = h->lua_dir = h->state_dir = NULL;
    eddy_buf_free(&h->scratch);
    h->phase = H_ENDED;
    return 0;
}

/* ---- making one ---------------------------------------------------------- */

/* Fills a fixed feed with the lines of the list at idx (strings).
 * [-0, +0, v] */
static void fill_raw(lua_State *L, named_feed *nf, int idx) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        size_t len;
        lua_rawgeti(L, idx, i);
        const char *s = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "inputs.%s: raw lines must be strings", nf->name);
        if (eddy_feed_add_raw(nf->feed, s, len) != 0)
            luaL_error(L, "out of memory");
        lua_pop(L, 1);
    }
}

/* Fills a fixed feed from the list at idx: events, or { raw = lines }.
 * [-0, +0, v] */
static void fill_feed(lua_State *L, harness *h, const char *name, int idx) {
    named_feed *nf = add_feed(h, name, 0);
    char err[512];
    if (nf == NULL) luaL_error(L, "out of memory");
    if (lua_getfield(L, idx, "raw") == LUA_TTABLE) {
        fill_raw(L, nf, lua_gettop(L));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (eddy_feed_add(nf->feed, L, lua_gettop(L), 0, 0, 0, err,
                          sizeof err) != 0)
            luaL_error(L, "inputs.%s[%d]: %s", name, (int)i, err);
        lua_pop(L, 1);
    }
}

/* Makes the temporary directory; its state dir is inside. [-0, +0, v] */
static void make_dirs(lua_State *L, harness *h) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096], sd[4200];
    snprintf(tmpl, sizeof tmpl, "%s/eddy-test-XXXXXX",
             base && *base ? base : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        luaL_error(L, "cannot make a temporary directory: %s", strerror(errno));
    snprintf(sd, sizeof sd, "%s/state", tmpl);
    mkdir(sd, 0777);
    h->tmp = strdup(tmpl);
    h->state_dir = strdup(sd);
    if (h->tmp == NULL || h->state_dir == NULL) luaL_error(L, "out of memory");
}

/* Reads string option k into a fresh copy. [-0, +0, v] */
static char *opt_dup(lua_State *L, const char *k) {
    lua_getfield(L, 1, k);
    char *s = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return s;
}

/* core.harness{ job_file = path, lua_dir = dir, inputs = { name = {...} },
 * live = name, start_ms = 0 } -> h. The job starts with h:start().
 * [-1, +1, v] */
static int h_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    harness *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    h->dlq = -1;
    eddy_buf_init(&h->scratch);
    luaL_setmetatable(L, HARNESS_MT); /* from here on __gc cleans up */
    make_dirs(L, h);
    h->job_file = opt_dup(L, "job_file");
    h->lua_dir = opt_dup(L, "lua_dir");
    if (h->lua_dir == NULL) luaL_error(L, "harness: lua_dir is needed");
    lua_getfield(L, 1, "start_ms");
    h->now = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "live") == LUA_TSTRING &&
        add_feed(h, lua_tostring(L, -1), 1) == NULL)
        luaL_error(L, "out of memory");
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "inputs") == LUA_TTABLE) {
        int inputs = lua_gettop(L);
        for (lua_pushnil(L); lua_next(L, inputs); lua_pop(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
                luaL_error(L, "inputs: give source_name = { event, ... }");
            fill_feed(L, h, lua_tostring(L, -2), lua_gettop(L));
        }
    }
    lua_pop(L, 1);
    return 1;
}

/* h:dir() -> the temporary directory [-0, +1, -] */
static int h_dir(lua_State *L) {
    lua_pushstring(L, eddy_harness_check(L)->tmp);
    return 1;
}

/* h:set_job(path): the job file, before start. [-0, +0, v] */
static int h_set_job(lua_State *L) {
    harness *h = eddy_harness_check(L);
    const char *p = luaL_checkstring(L, 2);
    free(h->job_file);
    h->job_file = strdup(p);
    return 0;
}

/* core.test_key(): in a job the kit runs, the key given with push.
 * [-0, +1, -] */
static int test_key(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, EDDY_TEST_KEY);
    return 1;
}

/* core.realpath(path) -> absolute path | nil, err [-1, +(1|2), m] */
static int real_path(lua_State *L) {
    char buf[PATH_MAX];
    if (realpath(luaL_checkstring(L, 1), buf) == NULL) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", lua_tostring(L, 1), strerror(errno));
        return 2;
    }
    lua_pushstring(L, buf);
    return 1;
}

/* core.log_level(name): the threshold of eddy's log. [-1, +0, v] */
static int log_level(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    if (eddy_log_set_level(name) != 0)
        return luaL_error(L,
                          "unknown log level '%s' (debug, info, warn, "
                          "error)",
                          name);
    return 0;
}

static const luaL_Reg life_methods[] = {
    {"start", h_start},   {"crash", h_crash}, {"restore", h_restore},
    {"finish", h_finish}, {"dir", h_dir},     {"set_job", h_set_job},
    {NULL, NULL}};

void eddy_harness_register(lua_State *L) {
    if (luaL_newmetatable(L, HARNESS_MT)) {
        lua_pushcfunction(L, h_gc);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        luaL_setfuncs(L, life_methods, 0);
        luaL_setfuncs(L, eddy_harness_io_methods, 0);
        luaL_setfuncs(L, eddy_harness_read_methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, h_new);
    lua_setfield(L, -2, "harness");
    lua_pushcfunction(L, test_key);
    lua_setfield(L, -2, "test_key");
    lua_pushcfunction(L, log_level);
    lua_setfield(L, -2, "log_level");
    lua_pushcfunction(L, real_path);
    lua_setfield(L, -2, "realpath");
}

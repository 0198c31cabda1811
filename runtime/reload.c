/* reload.c - hot reload of operator scripts.
 *
 * Each operator script is stat()ed every WATCH_S on the loop (libev's
 * ev_stat misses an editor's write-then-rename for seconds with inotify,
 * and polling a few paths costs nothing); a change of inode, size or
 * mtime starts a short settle timer, and once the file has been quiet
 * that long the operator reloads once. SIGHUP
 * reloads every operator. A reload compiles the file as text in a fresh
 * environment, runs its top level, checks the contract, migrates state if
 * the version changed, and only then swaps the code between two events
 * (the loop is single-threaded, so any point outside a callback is between
 * events) and runs open(ctx). Any failure keeps the running version and is
 * logged with file:line and counted. The operator owns its watchers. */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "operator_impl.h"
#include "script.h"
#include "state_codec.h"
#include "texts.h"

#define WATCH_S 0.1   /* how often scripts are stat()ed */
#define SETTLE_S 0.05 /* quiet time before a changed file is reloaded */

void eddy_op_read_version(eddy_op *op, lua_State *L, int mod) {
    lua_getfield(L, mod, "accepts_late");
    op->accepts_late = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, mod, "version");
    op->has_version = lua_isinteger(L, -1);
    op->version = op->has_version ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    op->hash = eddy_vm_text_hash(op->vm); /* the text just loaded */
}

/* Checks what migrate returned for the key at key: the results are above
 * key. Keeps the new state there (false for nil: the key is dropped): 0;
 * or -1 with err for no result at all (a missing return would drop every
 * key) or one that is not a table, naming the line migrate is defined
 * on. [-(0|n), +(0|1), m] */
static int migrated(lua_State *L, int mod, int key, char *err, size_t n) {
    int nres = lua_gettop(L) - key, t = nres ? lua_type(L, key + 1) : 0;
    if (nres > 0 && (t == LUA_TTABLE || t == LUA_TNIL)) {
        lua_settop(L, key + 1);
        if (t == LUA_TNIL) lua_pushboolean(L, 0), lua_replace(L, key + 1);
        return 0;
    }
    char k[128];
    lua_Debug ar;
    lua_getfield(L, mod, "migrate"); /* stack: key results migrate */
    lua_getinfo(L, ">S", &ar);       /* stack: key results */
    if (lua_type(L, key) == LUA_TSTRING)
        snprintf(k, sizeof k, "\"%.100s\"", lua_tostring(L, key));
    else
        snprintf(k, sizeof k, "%lld", (long long)lua_tointeger(L, key));
    snprintf(err, n,
             "%s:%d: migrate returned %s for key %s: it must return the new "
             "state (a table), or nil to drop the key",
             ar.short_src, ar.linedefined,
             nres ? luaL_typename(L, key + 1) : "nothing", k);
    return -1;
}

/* Replaces the state at the top by a copy made through the codec, so that
 * a migrate that changes its argument in place and then fails (or returns
 * a bad value for a later key) leaves the running state as it was. 0, or
 * -1 with err. [-1, +1, m] */
static int copy_state(eddy_op *op, lua_State *L, char *err, size_t n) {
    char why[512];
    if (!lua_istable(L, -1)) return 0;
    eddy_buf_reset(&op->vbuf);
    if (eddy_codec_encode(L, -1, "state", &op->vbuf, why, sizeof why) != 0) {
        snprintf(err, n, "migrate: %s", why);
        return -1;
    }
    lua_pop(L, 1);
    return eddy_codec_decode(L, op->vbuf.data, op->vbuf.len, err, n);
}

/* migrate(old_state, ctx, old_version) for every key into a table
 * key -> new state (false: deleted), left on the stack. 0, or -1 (err).
 * [-0, +(1|0), m] */
static int migrate_all(eddy_op *op, lua_State *L, int mod, int64_t from,
                       char *err, size_t n) {
    if (eddy_opstate_load_all(op->state, L, err, n) != 0) return -1;
    int top = lua_gettop(L), h = top + 1;
    eddy_vm_push_handler(op->vm);
    eddy_opstate_push_keys(op->state, L);
    lua_newtable(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    /* stack: handler keys out ctx */
    lua_Integer nk = (lua_Integer)lua_rawlen(L, h + 1);
    for (lua_Integer i = 1; i <= nk; i++) {
        lua_rawgeti(L, h + 1, i);
        int key = lua_gettop(L);
        eddy_op_ctx_settle(op, L, h + 3);
        eddy_op_set_key(op, L, h + 3, key);
        lua_getfield(L, mod, "migrate");
        if (eddy_op_peek_state(op, L, key, err, n) != 0 ||
            copy_state(op, L, err, n) != 0)
            goto fail;
        lua_pushvalue(L, h + 3);
        lua_pushinteger(L, from);
        /* stack: ... key migrate old ctx from */
        if (eddy_vm_pcall(op->vm, h, 3, LUA_MULTRET) != 0) {
            snprintf(err, n, "migrate failed: %s", eddy_vm_error(op->vm));
            goto fail;
        }
        if (migrated(L, mod, key, err, n) != 0) goto fail;
        lua_rawset(L, h + 2); /* out[key] = new state */
    }
    eddy_op_set_key(op, L, h + 3, 0);
    lua_copy(L, h + 2, top + 1);
    lua_settop(L, top + 1);
    return 0;
fail:
    eddy_op_set_key(op, L, h + 3, 0);
    lua_settop(L, top);
    return -1;
}

/* Files the migrated states (table at idx) as the keys' state; logs how
 * many keys migrate dropped. */
static void apply_states(eddy_op *op, lua_State *L, int idx) {
    long long keys = 0, dropped = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1), keys++) {
        dropped += !lua_toboolean(L, -1);
        lua_pushvalue(L, -1);
        eddy_opstate_put(op->state, L, lua_gettop(L) - 2);
    }
    if (dropped > 0)
        eddy_info("operator %s: migrate returned nil for %lld of %lld keys: "
                  "their state is dropped",
                  op->name, dropped, keys);
}

/* The new module at mod replaces the running one: checks, migrates, swaps
 * and opens. 0, or -1 with err (the old version keeps running). */
static int swap_in(eddy_op *op, lua_State *L, int mod, char *err, size_t n) {
    if (lua_getfield(L, mod, "process") != LUA_TFUNCTION) {
        snprintf(err, n, "%s: the script has no process function", op->script);
        lua_pop(L, 1);
        return -1;
    }
    lua_getfield(L, mod, "version");
    int bad = !lua_isnil(L, -1) && !lua_isinteger(L, -1);
    int has = lua_isinteger(L, -1);
    int64_t version = has ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    if (bad) {
        snprintf(err, n, "%s: version must be an integer", op->script);
        lua_pop(L, 1);
        return -1;
    }
    /* stack: process */
    int migrating = op->keyed && version != op->version;
    if (migrating && lua_getfield(L, mod, "migrate") != LUA_TFUNCTION) {
        snprintf(err, n,
                 "%s: version changed from %lld to %lld but the "
                 "script has no migrate function",
                 op->script, (long long)op->version, (long long)version);
        lua_pop(L, 2);
        return -1;
    }
    if (migrating) lua_pop(L, 1);
    if (migrating && migrate_all(op, L, mod, op->version, err, n) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    /* stack: process [migrated] */
    int old_mod = op->mod_ref, old_fn = op->fn_ref;
    lua_pushvalue(L, mod);
    op->mod_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    int old_arg = op->state_arg;
    op->state_arg = eddy_op_wants_state(L, migrating ? -2 : -1);
    lua_pushvalue(L, migrating ? -2 : -1);
    op->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (eddy_op_call_open(op) != 0) { /* back to the old version */
        snprintf(err, n, "open failed: %s", eddy_vm_error(op->vm));
        luaL_unref(L, LUA_REGISTRYINDEX, op->mod_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, op->fn_ref);
        op->mod_ref = old_mod;
        op->fn_ref = old_fn;
        op->state_arg = old_arg;
        lua_pop(L, 1 + migrating);
        return -1;
    }
    if (migrating) apply_states(op, L, lua_gettop(L));
    luaL_unref(L, LUA_REGISTRYINDEX, old_mod);
    luaL_unref(L, LUA_REGISTRYINDEX, old_fn);
    op->has_version = has;
    op->version = version;
    lua_getfield(L, mod, "accepts_late");
    op->accepts_late = lua_toboolean(L, -1);
    lua_pop(L, 2 + migrating);
    return 0;
}

/* Reloads op->script: 0, or -1 with err (the running version stays). */
static int reload(eddy_op *op, char *err, size_t errlen) {
    lua_State *L = eddy_vm_state(op->vm);
    char e[1536];
    int64_t t0 = eddy_clock_mono_ms();
    int top = lua_gettop(L), rc = -1;
    if (eddy_script_load(op->vm, op->script, e, sizeof e) != 0)
        snprintf(err, errlen, "%s", e);
    else
        rc = swap_in(op, L, top + 1, err, errlen);
    lua_settop(L, top);
    if (rc != 0) {
        op->reload_failures++;
        eddy_error("operator %s: reload failed, the running version stays: "
                   "%s",
                   op->name, err);
        return -1;
    }
    op->reloads++;
    op->hash = eddy_vm_text_hash(op->vm);
    eddy_texts_accept(eddy_vm_texts(op->vm), op->script);
    eddy_info("operator %s: reloaded %s (version %lld) in %lld ms", op->name,
              op->script, (long long)op->version,
              (long long)(eddy_clock_mono_ms() - t0));
    return 0;
}

int eddy_op_script_stale(eddy_op *op) {
    return op->script && eddy_texts_stale(eddy_vm_texts(op->vm), op->script);
}

int eddy_op_reload(eddy_op *op) {
    char err[2048];
    if (op->script == NULL) return 0; /* an inline function */
    return reload(op, err, sizeof err);
}

int eddy_op_reload_from(eddy_op *op, const char *path, char *err,
                        size_t errlen) {
    char *old = op->script, *now = strdup(path);
    if (old == NULL || now == NULL) {
        free(now);
        snprintf(err, errlen, "operator %s: %s", op->name,
                 now ? "an inline function cannot be reloaded"
                     : "out of memory");
        return -1;
    }
    op->script = now;
    if (reload(op, err, errlen) == 0) {
        free(old);
        return 0;
    }
    op->script = old;
    free(now);
    return -1;
}

static int reload_p(lua_State *L, void *ud) {
    eddy_op_reload(ud);
    return 0;
}

static void on_settle(struct ev_loop *loop, ev_timer *w, int revents) {
    eddy_op *op = w->data;
    ev_timer_stop(loop, w); /* once per quiet period */
    if (eddy_vm_protect(op->vm, reload_p, op) != 0)
        eddy_error("operator %s: reload failed: %s", op->name,
                   eddy_vm_error(op->vm));
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void on_watch(struct ev_loop *loop, ev_timer *w, int revents) {
    eddy_op *op = w->data;
    struct stat st;
    if (stat(op->script, &st) != 0) return; /* mid-save: not there yet */
    if (same_file(&st, &op->seen)) return;
    op->seen = st;
    ev_timer_again(loop, &op->settle);
}

void eddy_op_watch(eddy_op *op) {
    struct ev_loop *loop = eddy_job_loop(op->job);
    if (op->script == NULL || op->watching || loop == NULL) return;
    if (stat(op->script, &op->seen) != 0) memset(&op->seen, 0, sizeof op->seen);
    ev_timer_init(&op->watch, on_watch, WATCH_S, WATCH_S);
    ev_init(&op->settle, on_settle);
    op->settle.repeat = SETTLE_S;
    op->watch.data = op->settle.data = op;
    ev_timer_start(loop, &op->watch);
    ev_unref(loop); /* watching alone keeps nothing alive */
    op->watching = 1;
}

void eddy_op_unwatch(eddy_op *op) {
    struct ev_loop *loop = eddy_job_loop(op->job);
    if (!op->watching || loop == NULL) return;
    ev_ref(loop);
    ev_timer_stop(loop, &op->watch);
    ev_timer_stop(loop, &op->settle);
    op->watching = 0;
}

void eddy_op_describe(eddy_op *op, lua_State *L) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)op->hash);
    lua_createtable(L, 0, 2);
    if (op->has_version) {
        lua_pushinteger(L, op->version);
        lua_setfield(L, -2, "version");
    }
    if (op->script) {
        lua_pushstring(L, hex);
        lua_setfield(L, -2, "hash");
    }
}

int eddy_op_migrate_from(eddy_op *op, int64_t from, char *err, size_t n) {
    /* no version counts as version 0 */
    if (!op->keyed || op->script == NULL || op->version == from) return 0;
    lua_State *L = eddy_vm_state(op->vm);
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->mod_ref);
    if (lua_getfield(L, top + 1, "migrate") != LUA_TFUNCTION) {
        snprintf(err, n,
                 "operator %s: the checkpoint holds version %lld "
                 "state, the script is version %lld and has no migrate "
                 "function",
                 op->name, (long long)from, (long long)op->version);
        lua_settop(L, top);
        return -1;
    }
    lua_pop(L, 1);
    int rc = migrate_all(op, L, top + 1, from, err, n);
    if (rc == 0) apply_states(op, L, lua_gettop(L));
    lua_settop(L, top);
    if (rc == 0)
        eddy_info("operator %s: migrated state from version %lld to %lld",
                  op->name, (long long)from, (long long)op->version);
    return rc;
}

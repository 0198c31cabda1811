/* operator.c - user operators and the ctx they see.
 *
 * An operator is a node whose push calls its Lua function through the vm's
 * protected call. Each operator has one ctx table reused for every event:
 * methods are raw fields (fast lookups), ctx.key is set per event on keyed
 * streams, and ctx.state is handed out when the key's state is in memory
 * (op_event.c's begin) or else loaded lazily from the store by the ctx
 * metatable on first touch, so operators that never read state never
 * read the store for it. A state handed out becomes hot (opstate.c):
 * after the call what the script assigned to ctx.state is filed there
 * too, so the hot table holds every change a checkpoint must write (and
 * may hold a key whose event left its state unchanged). An empty state table
 * is dropped (a tombstone), like ctx:clear().
 * The per-event path and the error policy are in op_event.c. The operator
 * owns its registry refs and its node. */
#include "operator.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "operator_impl.h"
#include "opstate.h"
#include "timers.h"
#include "script.h"
#include "state_codec.h"

static const char *const kinds[] = {"map", "filter", "flat_map", "process",
                                    NULL};

eddy_node *eddy_op_node(eddy_op *op) {
    return op->node;
}
const char *eddy_op_name(const eddy_op *op) {
    return op->name;
}

void eddy_op_get_stats(const eddy_op *op, eddy_op_stats *st) {
    *st = op->st;
    st->out = eddy_node_emitted(op->node);
    st->late = op->late;
    st->reloads = op->reloads;
    st->reload_failures = op->reload_failures;
    st->timers = op->timers ? eddy_timers_count(op->timers) : 0;
}

size_t eddy_op_keys(eddy_op *op) {
    if (op->state == NULL) return 0;
    return eddy_opstate_count(op->state, eddy_vm_state(op->vm));
}

/* ---- ctx methods ------------------------------------------------------ */

eddy_op *eddy_op_of_ctx(lua_State *L) {
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* ctx:emit(ev [, side]) [-0, +0, e] */
static int ctx_emit(lua_State *L) {
    eddy_op *op = eddy_op_of_ctx(L);
    const char *side = NULL;
    if (lua_gettop(L) >= 3 && lua_type(L, 3) > LUA_TNIL) {
        if (lua_type(L, 3) != LUA_TSTRING) /* not even a number */
            return luaL_error(L, "ctx:emit: side must be a string, got %s",
                              luaL_typename(L, 3));
        side = lua_tostring(L, 3);
    } else if (op->kind != OP_FLAT_MAP && op->kind != OP_PROCESS)
        return luaL_error(L,
                          "ctx:emit is for flat_map and process "
                          "operators (return the value in %s)",
                          kinds[op->kind]);
    if (lua_type(L, 2) <= LUA_TNIL)
        return luaL_error(L, "ctx:emit: event is nil");
    eddy_node_emit(op->node, L, 2, side);
    return 0;
}

/* ctx:clear() drops this key's state. [-0, +0, m] */
static int ctx_clear(lua_State *L) {
    eddy_op *op = eddy_op_of_ctx(L);
    lua_settop(L, 1);
    op->handed = NULL;
    if (!op->keyed) {
        lua_newtable(L);
        lua_setfield(L, 1, "state");
        return 0;
    }
    lua_pushliteral(L, "state");
    lua_pushnil(L);
    lua_rawset(L, 1);
    eddy_op_push_key(op, L);
    lua_pushboolean(L, 0);
    /* stack: ctx key false */
    eddy_opstate_put(op->state, L, 2);
    eddy_timers_clear_key(op->timers, L, 2);
    return 0;
}

/* ctx:now() [-0, +1, -] */
static int ctx_now(lua_State *L) {
    lua_pushinteger(L, eddy_clock_now(eddy_job_clock(eddy_op_of_ctx(L)->job)));
    return 1;
}

/* ctx:timestamp() [-0, +1, -] */
static int ctx_timestamp(lua_State *L) {
    int64_t ts;
    if (eddy_job_timestamp(eddy_op_of_ctx(L)->job, &ts))
        lua_pushinteger(L, ts);
    else
        lua_pushnil(L);
    return 1;
}

/* ctx:log(level, msg) [-0, +0, e] */
static int ctx_log(lua_State *L) {
    eddy_op *op = eddy_op_of_ctx(L);
    const char *lvl = luaL_checkstring(L, 2);
    int level = eddy_log_level_of(lvl);
    if (level < 0)
        return luaL_error(L,
                          "ctx:log: unknown level '%s' (debug, info, "
                          "warn, error)",
                          lvl);
    const char *msg = luaL_tolstring(L, 3, NULL);
    eddy_log(level, "%s: %s", op->name, msg);
    return 0;
}

/* __index(ctx, k): ctx.key (the key in hand, see eddy_op_set_key), and
 * ctx.state when the call did not start with the key's state in hand:
 * takes it from clean (moving it to hot) or makes a new table, and caches
 * it raw in ctx. Upvalues: the operator, "state", "key". [-0, +1, m] */
static int ctx_index(lua_State *L) {
    eddy_op *op = eddy_op_of_ctx(L);
    lua_settop(L, 2);
    if (lua_rawequal(L, 2, lua_upvalueindex(3))) { /* "key" */
        op->key_eager = 1; /* the script reads it: set it raw per call */
        eddy_op_push_key(op, L);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_rawset(L, 1); /* and for the rest of this call */
        return 1;
    }
    if (!lua_rawequal(L, 2, lua_upvalueindex(2))) return 0; /* not "state" */
    op->state_eager = 1; /* the script uses ctx.state: set it per call */
    eddy_op_push_key(op, L);
    if (lua_isnil(L, 3))
        return luaL_error(L, "ctx.state of a keyed operator exists only "
                             "while an event or timer of a key is handled");
    eddy_opstate_fetch(op->state, L, 3);
    /* stack: ctx "state" key st */
    op->handed = lua_topointer(L, -1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1); /* ctx.state = st, raw: later reads are plain */
    return 1;
}

/* __newindex(ctx, k, v): a plain rawset. Assigning ctx.key or ctx.state
 * makes the operator eager for it (eddy_op_set_key, state_arg_push), so
 * the next call sets the field again and this one's writeback files the
 * new state. Upvalues as ctx_index's. [-0, +0, m] */
static int ctx_newindex(lua_State *L) {
    eddy_op *op = eddy_op_of_ctx(L);
    lua_settop(L, 3);
    if (lua_rawequal(L, 2, lua_upvalueindex(2))) op->state_eager = 1;
    if (lua_rawequal(L, 2, lua_upvalueindex(3))) op->key_eager = 1;
    lua_rawset(L, 1);
    return 0;
}

static const luaL_Reg ctx_methods[] = {
    {"emit", ctx_emit}, {"clear", ctx_clear},         {"now", ctx_now},
    {"log", ctx_log},   {"timestamp", ctx_timestamp}, {NULL, NULL}};

/* Builds the ctx table for op. [-0, +1, m] */
static void ctx_push_new(lua_State *L, eddy_op *op) {
    lua_createtable(L, 0, 12);
    lua_pushlightuserdata(L, op);
    luaL_setfuncs(L, ctx_methods, 1);
    lua_pushlightuserdata(L, op);
    luaL_setfuncs(L, eddy_op_timer_methods, 1);
    lua_pushstring(L, op->name);
    lua_setfield(L, -2, "name");
    if (op->keyed) {
        lua_createtable(L, 0, 2);
        lua_pushlightuserdata(L, op);
        lua_pushliteral(L, "state");
        lua_pushliteral(L, "key");
        lua_pushcclosure(L, ctx_index, 3);
        lua_setfield(L, -2, "__index");
        lua_pushlightuserdata(L, op);
        lua_pushliteral(L, "state");
        lua_pushliteral(L, "key");
        lua_pushcclosure(L, ctx_newindex, 3);
        lua_setfield(L, -2, "__newindex");
        lua_setmetatable(L, -2);
    } else {
        lua_newtable(L);
        lua_setfield(L, -2, "state");
    }
}

/* ---- building ---------------------------------------------------------- */

/* Reads string field k of the table at idx into a fresh copy (NULL when
 * absent or not a string). [-0, +0, m] */
static char *field_dup(lua_State *L, int idx, const char *k) {
    lua_getfield(L, idx, k);
    char *s =
        lua_type(L, -1) == LUA_TSTRING ? strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return s;
}

static int option_index(const char *const *names, const char *s) {
    for (int i = 0; s && names[i]; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* Loads the operator script and takes its process function. [-0, +0, -] */
static int op_load_script(eddy_op *op, lua_State *L, char *err, size_t n) {
    char e[1024];
    if (eddy_script_load(op->vm, op->script, e, sizeof e) != 0) {
        snprintf(err, n, "operator %s: %s", op->name, e);
        return -1;
    }
    /* stack: module */
    if (lua_getfield(L, -1, "process") != LUA_TFUNCTION) {
        snprintf(err, n,
                 "operator %s: %s: the script has no process "
                 "function",
                 op->name, op->script);
        lua_pop(L, 2);
        return -1;
    }
    op->state_arg = eddy_op_wants_state(L, -1);
    op->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "version");
    int bad = !lua_isnil(L, -1) && !lua_isinteger(L, -1);
    lua_pop(L, 1);
    if (bad) {
        snprintf(err, n, "operator %s: %s: version must be an integer",
                 op->name, op->script);
        lua_pop(L, 1);
        return -1;
    }
    eddy_op_read_version(op, L, lua_gettop(L));
    op->mod_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Reads kind, policy, key and code from the description. */
static int op_configure(eddy_op *op, lua_State *L, int desc, char *err,
                        size_t n) {
    char *kind = field_dup(L, desc, "kind");
    char *pol = field_dup(L, desc, "on_error");
    op->kind = option_index(kinds, kind);
    op->policy = pol ? option_index(eddy_op_policies, pol) : POL_FAIL;
    free(kind);
    free(pol);
    if (op->kind < 0 || op->policy < 0) {
        snprintf(err, n,
                 "operator %s: unknown kind or on_error policy "
                 "(on_error is fail, skip or dead_letter)",
                 op->name);
        return -1;
    }
    int kt = lua_getfield(L, desc, "key");
    op->keyed = kt != LUA_TNIL;
    if (kt == LUA_TSTRING)
        op->keyfield_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else if (kt == LUA_TFUNCTION)
        op->keyfn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    op->keyself = kt == LUA_TBOOLEAN;
    if (op->script) return op_load_script(op, L, err, n);
    if (lua_getfield(L, desc, "fn") != LUA_TFUNCTION) {
        lua_pop(L, 1);
        snprintf(err, n, "operator %s: needs a script path or a function",
                 op->name);
        return -1;
    }
    op->state_arg = eddy_op_wants_state(L, -1);
    op->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

eddy_op *eddy_op_new(eddy_job *job, lua_State *L, int desc, char *err,
                     size_t errlen) {
    eddy_op *op = calloc(1, sizeof *op);
    if (op == NULL) return NULL;
    op->job = job;
    op->vm = eddy_job_vm(job);
    op->mod_ref = op->fn_ref = op->ctx_ref = LUA_NOREF;
    op->str_state = op->str_key = LUA_NOREF;
    op->keyfn_ref = op->keyfield_ref = LUA_NOREF;
    op->name = field_dup(L, desc, "name");
    op->script = field_dup(L, desc, "script");
    if (op->script && op->script[0] != '/') { /* relative to the job file */
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", eddy_job_dir(job), op->script);
        free(op->script);
        op->script = strdup(full);
    }
    op->where = field_dup(L, desc, "where");
    if (op->name == NULL) op->name = strdup("operator");
    if (op_configure(op, L, desc, err, errlen) != 0 ||
        (op->node = eddy_node_new(op->name, eddy_op_push, op)) == NULL) {
        eddy_op_free(op);
        return NULL;
    }
    if (op->keyed && ((op->state = eddy_opstate_new(L, op->name)) == NULL ||
                      (op->timers = eddy_timers_new(L)) == NULL)) {
        eddy_op_free(op);
        return NULL;
    }
    if (eddy_op_timers_setup(op) != 0) {
        snprintf(err, errlen, "out of memory");
        eddy_op_free(op);
        return NULL;
    }
    ctx_push_new(L, op);
    op->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "state");
    op->str_state = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "key");
    op->str_key = luaL_ref(L, LUA_REGISTRYINDEX);
    return op;
}

/* Calls module function fname(ctx) if the script defines it. */
static int op_hook(eddy_op *op, const char *fname) {
    if (op->mod_ref == LUA_NOREF) return 0;
    lua_State *L = eddy_vm_state(op->vm);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->mod_ref);
    if (lua_getfield(L, -1, fname) != LUA_TFUNCTION) {
        lua_pop(L, 2);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    eddy_op_ctx_settle(op, L, lua_gettop(L));
    int rc = eddy_vm_call(op->vm, 1, 0);
    lua_pop(L, 1);
    return rc;
}

int eddy_op_call_open(eddy_op *op) {
    return op_hook(op, "open");
}

int eddy_op_open(eddy_op *op) {
    if (op_hook(op, "open") == 0) return 0;
    eddy_job_fail(op->job, "operator %s: open failed: %s", op->name,
                  eddy_vm_error(op->vm));
    return -1;
}

void eddy_op_close(eddy_op *op) {
    if (op_hook(op, "close") != 0)
        eddy_error("operator %s: close failed: %s", op->name,
                   eddy_vm_error(op->vm));
}

void eddy_op_free(eddy_op *op) {
    if (op == NULL) return;
    lua_State *L = eddy_vm_state(op->vm);
    int refs[] = {op->mod_ref,      op->fn_ref,    op->ctx_ref, op->keyfn_ref,
                  op->keyfield_ref, op->str_state, op->str_key};
    eddy_opstate_free(op->state, L);
    eddy_op_timers_stop(op);
    eddy_op_unwatch(op);
    eddy_timers_free(op->timers, L);
    eddy_buf_free(&op->kbuf);
    eddy_buf_free(&op->vbuf);
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        luaL_unref(L, LUA_REGISTRYINDEX, refs[i]);
    eddy_node_free(op->node);
    free(op->name);
    free(op->script);
    free(op->where);
    free(op);
}

/* ---- checkpoints ------------------------------------------------------- */

/* The store key of an operator-wide state into b. */
static void opwide_key(const eddy_op *op, eddy_buf *b) {
    eddy_buf_reset(b);
    eddy_buf_addc(b, EDDY_KEY_OPSTATE);
    eddy_buf_adds(b, op->name);
}

int eddy_op_snapshot(eddy_op *op, eddy_batch *b, size_t *nkeys, char *err,
                     size_t errlen) {
    lua_State *L = eddy_vm_state(op->vm);
    if (op->keyed) {
        if (eddy_opstate_snapshot(op->state, L, b, nkeys, err, errlen) != 0)
            return -1;
        return eddy_op_timers_snapshot(op, L, b, err, errlen);
    }
    char why[400];
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    lua_getfield(L, -1, "state");
    /* stack: ctx state */
    if (!lua_istable(L, -1) && !lua_isnil(L, -1)) {
        snprintf(err, errlen,
                 "%s: ctx.state is a %s: it must be a table (or nil) to be "
                 "checkpointed",
                 op->name, luaL_typename(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    int empty = !lua_istable(L, -1) || (lua_pushnil(L), lua_next(L, -2) == 0);
    if (!empty) lua_pop(L, 2); /* the first key and value */
    eddy_buf_reset(&op->vbuf);
    int rc = eddy_codec_encode(L, -1, "state", &op->vbuf, why, sizeof why);
    lua_pop(L, 2);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", op->name, why);
        return -1;
    }
    opwide_key(op, &op->kbuf);
    if (empty) /* no state: no record */
        eddy_batch_delete(b, op->kbuf.data, op->kbuf.len);
    else
        eddy_batch_put(b, op->kbuf.data, op->kbuf.len, op->vbuf.data,
                       op->vbuf.len);
    *nkeys = 1;
    return 0;
}

void eddy_op_commit(eddy_op *op) {
    if (op->keyed) eddy_opstate_commit(op->state, eddy_vm_state(op->vm));
}

void eddy_op_rollback(eddy_op *op) {
    if (op->keyed) eddy_opstate_rollback(op->state, eddy_vm_state(op->vm));
}

int eddy_op_restore(eddy_op *op, eddy_store *store, char *err, size_t errlen) {
    lua_State *L = eddy_vm_state(op->vm);
    if (op->keyed) {
        eddy_opstate_set_store(op->state, store);
        int rc = eddy_op_timers_restore(op, L, store, err, errlen);
        return rc < 0 ? -1 : 0;
    }
    opwide_key(op, &op->kbuf);
    int rc = eddy_store_get(store, op->kbuf.data, op->kbuf.len, &op->vbuf, err,
                            errlen);
    if (rc == 1) {
        rc = eddy_codec_decode(L, op->vbuf.data, op->vbuf.len, err, errlen);
        if (rc == 0) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
            lua_insert(L, -2);
            /* stack: ctx state */
            lua_setfield(L, -2, "state");
            lua_pop(L, 1);
        }
    }
    return rc < 0 ? -1 : 0;
}

int eddy_op_peek_state(eddy_op *op, lua_State *L, int key, char *err,
                       size_t errlen) {
    if (op->keyed) return eddy_opstate_peek(op->state, L, key, err, errlen);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    lua_getfield(L, -1, "state");
    lua_remove(L, -2);
    return 0;
}

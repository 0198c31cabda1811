/* op_event.c - the per-event path of operators, and their error policy.
 *
 * An operator's push calls its function through the vm's protected call,
 * with the event and the operator's ctx. On a keyed stream it first takes
 * the key (the event itself, a field, or the key_by function in its own
 * protected call), sets ctx.key and, when the key is hot, ctx.state (one
 * lookup); after the call eddy_op_writeback files what the call did to
 * ctx.state. A failed call goes to the operator's error policy (on_error
 * hook, skip, dead letter, poison pill or job failure).
 *
 * Invariant: during a call ctx.state is raw nil (not loaded yet) or the
 * table op->handed points to, unless the script assigned it; after the
 * call every state it changed is in the operator's hot table, whether the
 * call succeeded or failed. Between calls ctx.state keeps the last key's
 * state (clearing it would cost a rawset per event): every begin sets or
 * clears it, and the hooks that get ctx outside an event clear it first
 * (eddy_op_ctx_settle). The Lua stack is left as it was found. Nothing is
 * owned here: the operator (operator.c) owns its refs and tables. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "log.h"
#include "operator_impl.h"
#include "opstate.h"
#include "source.h"

const char *const eddy_op_policies[] = {"fail", "skip", "dead_letter", NULL};

/* Appends a printable form of the key at idx to buf. */
static void key_repr(lua_State *L, int idx, char *buf, size_t n) {
    if (idx == 0)
        snprintf(buf, n, "(none)");
    else if (lua_type(L, idx) == LUA_TSTRING)
        snprintf(buf, n, "\"%.200s\"", lua_tostring(L, idx));
    else if (lua_isinteger(L, idx))
        snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
    else
        snprintf(buf, n, "(%s)", luaL_typename(L, idx));
}

/* Runs the script's on_error(err, ev, ctx) hook; returns the policy it
 * chose, or -1 when the hook failed (the job fails). [-0, +0, -] */
static int op_error_hook(eddy_op *op, lua_State *L, int ev, const char *msg) {
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->mod_ref);
    if (lua_getfield(L, -1, "on_error") != LUA_TFUNCTION) {
        lua_settop(L, top);
        return op->policy;
    }
    lua_pushstring(L, msg);
    lua_pushvalue(L, ev);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    /* stack: mod on_error err ev ctx */
    int pol = op->policy;
    if (eddy_vm_call(op->vm, 3, 1) != 0) {
        eddy_job_fail(op->job, "operator %s: on_error hook failed: %s",
                      op->name, eddy_vm_error(op->vm));
        pol = -1;
    } else if (!lua_isnil(L, -1)) { /* nil: the option decides */
        const char *s =
            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int i = 0;
        while (s && eddy_op_policies[i] && strcmp(s, eddy_op_policies[i])) i++;
        if (s && eddy_op_policies[i])
            pol = i;
        else if (op->bad_hook_results++ < 10)
            eddy_warn("operator %s: on_error returned %s%s%s, not \"fail\", "
                      "\"skip\", \"dead_letter\" or nil: its on_error "
                      "option (%s) applies",
                      op->name, s ? "\"" : "a ", s ? s : luaL_typename(L, -1),
                      s ? "\"" : "", eddy_op_policies[op->policy]);
    }
    lua_settop(L, top);
    return pol;
}

/* Where the event in hand came from: "source clicks at byte 120", or for
 * a timer "no source (a timer)". */
static void origin_repr(eddy_op *op, const char *src, uint64_t pos, char *buf,
                        size_t n) {
    eddy_graph *g = src ? eddy_job_graph(op->job) : NULL;
    eddy_source *s = g ? eddy_graph_source(g, src) : NULL;
    if (src == NULL)
        snprintf(buf, n, "no source (a timer)");
    else
        snprintf(buf, n, "source %.200s at %s %llu", src,
                 s ? eddy_source_unit(s) : "byte", (unsigned long long)pos);
}

/* Applies the error policy to the event at ev that failed with msg; key is
 * the key's stack index or 0. [-0, +0, -] */
void eddy_op_error(eddy_op *op, lua_State *L, int ev, int key,
                   const char *msg) {
    op->st.errors++;
    int pol =
        op->mod_ref != LUA_NOREF ? op_error_hook(op, L, ev, msg) : op->policy;
    if (pol == POL_SKIP || pol == POL_DEAD) eddy_job_count_error(op->job);
    if (pol == POL_SKIP) {
        op->st.skipped++;
        eddy_debug("operator %s: skipped an event: %s", op->name, msg);
    } else if (pol == POL_DEAD) {
        op->st.dead_letters++;
        eddy_job_dead_letter(op->job, msg, op->name, L, key, ev, NULL, 0);
    } else if (pol == POL_FAIL && eddy_job_poisoned(op->job, op->name)) {
        char why[1024];
        snprintf(why, sizeof why,
                 "poison pill: this event failed operator "
                 "%s again after %d restarts: %s",
                 op->name, eddy_job_poisoned(op->job, op->name), msg);
        op->st.dead_letters++;
        eddy_warn("operator %s: a poison pill went to the dead letters",
                  op->name);
        eddy_job_dead_letter(op->job, why, op->name, L, key, ev, NULL, 0);
    } else if (pol == POL_FAIL) {
        char k[256];
        eddy_job_fail_event(op->job, op->name);
        const char *src;
        uint64_t pos;
        key_repr(L, key, k, sizeof k);
        char where[400];
        eddy_job_origin(op->job, &src, &pos);
        origin_repr(op, src, pos, where, sizeof where);
        eddy_job_fail(op->job, "operator %s failed: key %s, %s: %s", op->name,
                      k, where, msg);
    }
}

/* Pushes the key of the event at ev, or returns -1 with an error message
 * in msg. [-0, +(1|0), -] */
static int op_key(eddy_op *op, lua_State *L, int h, int ev, char *msg,
                  size_t n) {
    int t;
    if (op->keyself) {
        t = lua_type(L, ev);
        if (t != LUA_TSTRING && t != LUA_TNUMBER) {
            snprintf(msg, n,
                     "key_by(): the event is a %s, not a string or "
                     "an integer",
                     luaL_typename(L, ev));
            return -1;
        }
        lua_pushvalue(L, ev);
    } else if (op->keyfield_ref != LUA_NOREF) {
        if (!lua_istable(L, ev)) {
            snprintf(msg, n, "key_by: the event is a %s, not a table",
                     luaL_typename(L, ev));
            return -1;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, op->keyfield_ref);
        t = lua_gettable(L, ev);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, op->keyfn_ref);
        lua_pushvalue(L, ev);
        if (eddy_vm_pcall(op->vm, h, 1, 1) != 0) {
            snprintf(msg, n, "key_by function: %s", eddy_vm_error(op->vm));
            return -1;
        }
        t = lua_type(L, -1);
    }
    if (t == LUA_TSTRING || (t == LUA_TNUMBER && lua_isinteger(L, -1)))
        return 0;
    if (t == LUA_TNUMBER) { /* a float: only an integral one is a key */
        int exact;
        lua_Integer i = lua_tointegerx(L, -1, &exact);
        if (exact) {
            lua_pop(L, 1);
            lua_pushinteger(L, i);
            return 0;
        }
    }
    snprintf(msg, n, "key_by: the key must be a string or an integer, got %s",
             t == LUA_TNIL      ? "nil (missing field?)"
             : t == LUA_TNUMBER ? "a fraction"
                                : luaL_typename(L, -1));
    lua_pop(L, 1);
    return -1;
}

/* Ends a call's use of ctx.state. The usual case (the state the call
 * started with, changed in place) costs one rawget; a value the script
 * assigned (ctx.state = {...} or nil) replaces the stored one. Empty
 * states stay until the next checkpoint writes them as deletions.
 * ctx.state is left as it is: the next begin sets or clears it.
 * [-0, +0, m] */
int eddy_op_writeback(eddy_op *op, lua_State *L, int ctx, int key) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_state);
    int t = lua_rawget(L, ctx);
    /* stack: st */
    if (t != LUA_TTABLE && t != LUA_TNIL) { /* refused: the state stays */
        lua_pop(L, 1);
        lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_state);
        lua_pushnil(L);
        lua_rawset(L, ctx);
        op->handed = NULL;
        return t;
    }
    if (t == LUA_TTABLE ? lua_topointer(L, -1) != op->handed
                        : op->handed != NULL) {
        /* assigned by the script: nil deletes the key */
        eddy_opstate_put(op->state, L, key);
        op->handed = NULL;
        return 0;
    }
    lua_pop(L, 1);
    return 0;
}

void eddy_op_state_error(eddy_op *op, lua_State *L, int ev, int key, int t) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "ctx.state must be a table (or nil to drop the key's state), "
             "not a %s",
             lua_typename(L, t));
    eddy_op_error(op, L, ev, key, msg);
}

/* Hands the result of a map or filter call (at the top) downstream. */
static void op_result(eddy_op *op, lua_State *L, int ev) {
    if (op->kind == OP_MAP) {
        if (!lua_isnil(L, -1)) eddy_node_emit(op->node, L, lua_gettop(L), NULL);
    } else if (lua_toboolean(L, -1)) {
        eddy_node_emit(op->node, L, ev, NULL);
    }
}

/* ctx.key costs nothing for a script that never reads it: the operator
 * notes the key in C (a string's bytes stay valid: the key is on the
 * stack for the whole call) and ctx_index (operator.c) pushes it. The
 * first read through __index (or an assignment) makes the operator eager:
 * from then on each call also sets ctx.key raw, as a plain field read is
 * cheaper than a metamethod per event. The note is dropped when the call
 * ends, so it never outlives the string it points into. */
void eddy_op_set_key(eddy_op *op, lua_State *L, int ctx, int key) {
    op->key_type = key ? lua_type(L, key) : LUA_TNIL;
    if (op->key_type == LUA_TSTRING)
        op->key_s = lua_tolstring(L, key, &op->key_len);
    else if (op->key_type == LUA_TNUMBER)
        op->key_i = lua_tointeger(L, key);
    if (!op->key_eager) return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_key);
    if (key)
        lua_pushvalue(L, key);
    else
        lua_pushnil(L);
    lua_rawset(L, ctx);
}

void eddy_op_push_key(eddy_op *op, lua_State *L) {
    if (op->key_type == LUA_TSTRING)
        lua_pushlstring(L, op->key_s, op->key_len);
    else if (op->key_type == LUA_TNUMBER)
        lua_pushinteger(L, op->key_i);
    else
        lua_pushnil(L);
}

/* Starts a call for the key at index key: sets ctx.key, and ctx.state to
 * the key's state when it is hot (the steady case: one lookup) or in
 * memory unchanged since the last checkpoint (it becomes hot: the first
 * event of a key after a checkpoint does not go through ctx_index), else
 * to nil (ctx_index loads it from the store or makes it on first touch).
 * Leaves the hot table on the stack. [-0, +1, m] */
static void begin_call(eddy_op *op, lua_State *L, int ctx, int key) {
    eddy_op_set_key(op, L, ctx, key);
    eddy_opstate_push_hot(op->state, L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_state);
    lua_pushvalue(L, key);
    /* stack: hot "state" key */
    int t = lua_rawget(L, -3);
    if (t != LUA_TTABLE) {
        lua_pop(L, 1);
        if (t == LUA_TNIL && eddy_opstate_promote(op->state, L, key))
            t = LUA_TTABLE; /* unchanged since the last checkpoint */
        else
            lua_pushnil(L);
    }
    op->handed = t == LUA_TTABLE ? lua_topointer(L, -1) : NULL;
    lua_rawset(L, ctx); /* stack: hot */
}

/* [-0, +0, m] */
void eddy_op_begin_key(eddy_op *op, lua_State *L, int ctx, int key) {
    begin_call(op, L, ctx, key);
    lua_pop(L, 1);
}

void eddy_op_ctx_settle(eddy_op *op, lua_State *L, int ctx) {
    if (!op->keyed) return;
    eddy_op_set_key(op, L, ctx, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_state);
    lua_pushnil(L);
    lua_rawset(L, ctx);
    op->handed = NULL;
}

int eddy_op_wants_state(lua_State *L, int idx) {
    lua_Debug ar;
    lua_pushvalue(L, idx);
    return lua_getinfo(L, ">u", &ar) && ar.nparams >= 3;
}

/* The state argument's call: process(ev, ctx, state) of a script that has
 * never touched ctx.state. The key's state (made on first use, like a
 * first touch of ctx.state) goes in as the third argument and ctx.state
 * is not set: no field to set, nothing to compare after. A script that
 * reads or assigns ctx.state all the same turns the operator eager
 * (ctx_index, ctx_newindex): the writeback then files what it did.
 * Stack as keyed_push's, ctx at ctx. [-0, +0, -] */
static void state_arg_push(eddy_op *op, lua_State *L, int ev, int h, int key,
                           int ctx) {
    char msg[512];
    eddy_op_set_key(op, L, ctx, key);
    if (eddy_opstate_get(op->state, L, key, msg, sizeof msg) != 0) {
        eddy_op_error(op, L, ev, key, msg);
        return;
    }
    int st = lua_gettop(L);
    op->handed = lua_topointer(L, st);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->fn_ref);
    lua_pushvalue(L, ev);
    lua_pushvalue(L, ctx);
    lua_pushvalue(L, st);
    /* stack: handler key ctx st fn ev ctx st */
    int nres = op->kind == OP_MAP || op->kind == OP_FILTER;
    int rc = eddy_vm_pcall(op->vm, h, 3, nres);
    int bad = op->state_eager ? eddy_op_writeback(op, L, ctx, key) : 0;
    if (rc != 0)
        eddy_op_error(op, L, ev, key, eddy_vm_error(op->vm));
    else if (bad)
        eddy_op_state_error(op, L, ev, key, bad);
    else if (nres)
        op_result(op, L, ev);
}

/* The state argument of an eager operator's call: ctx.state as begin_call
 * set it, or when the key has none in memory yet, its state from the
 * store or a new table, set as ctx.state too. 0 with it pushed, or -1
 * with err (an unreadable stored state). [-0, +(0|1), m] */
static int push_state_arg(eddy_op *op, lua_State *L, int ctx, int key,
                          char *err, size_t n) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_state);
    if (lua_rawget(L, ctx) == LUA_TTABLE) return 0;
    lua_pop(L, 1);
    if (eddy_opstate_get(op->state, L, key, err, n) != 0) return -1;
    op->handed = lua_topointer(L, -1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_state);
    lua_pushvalue(L, -2);
    lua_rawset(L, ctx);
    return 0;
}

/* A keyed event: key, state, call, writeback. [-0, +0, -] */
static void keyed_push(eddy_op *op, lua_State *L, int ev, int top) {
    char msg[512];
    int h = top + 1, key = top + 2;
    eddy_vm_push_handler(op->vm);
    if (op_key(op, L, h, ev, msg, sizeof msg) != 0) {
        eddy_op_error(op, L, ev, 0, msg);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    int ctx = top + 3;
    if (op->state_arg && !op->state_eager) {
        state_arg_push(op, L, ev, h, key, ctx);
        op->key_type = LUA_TNIL;
        return;
    }
    begin_call(op, L, ctx, key);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->fn_ref);
    lua_pushvalue(L, ev);
    lua_pushvalue(L, ctx);
    int nargs = 2 + op->state_arg;
    if (op->state_arg && push_state_arg(op, L, ctx, key, msg, sizeof msg)) {
        eddy_op_error(op, L, ev, key, msg);
        op->key_type = LUA_TNIL;
        return;
    }
    /* stack: handler key ctx hot fn ev ctx [st] */
    int nres = op->kind == OP_MAP || op->kind == OP_FILTER;
    int rc = eddy_vm_pcall(op->vm, h, nargs, nres);
    int bad = eddy_op_writeback(op, L, ctx, key);
    if (rc != 0)
        eddy_op_error(op, L, ev, key, eddy_vm_error(op->vm));
    else if (bad)
        eddy_op_state_error(op, L, ev, key, bad);
    else if (nres)
        op_result(op, L, ev);
    op->key_type = LUA_TNIL; /* the call is over: drop the key's note */
}

void eddy_op_push(void *self, lua_State *L, int ev) {
    eddy_op *op = self;
    if (eddy_job_failed(op->job)) return;
    op->st.in++;
    int top = lua_gettop(L);
    int64_t ts;
    if (op->keyed && !op->accepts_late && eddy_job_timestamp(op->job, &ts) &&
        ts < eddy_node_watermark(op->node)) { /* late */
        op->late++;
        if (eddy_node_has_readers(op->node, "late"))
            eddy_node_emit(op->node, L, ev, "late");
        return;
    }
    if (op->keyed) {
        keyed_push(op, L, ev, top);
        lua_settop(L, top);
        return;
    }
    eddy_vm_push_handler(op->vm);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->fn_ref);
    lua_pushvalue(L, ev);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    if (op->state_arg) { /* the operator's state, as ctx.state */
        lua_rawgeti(L, LUA_REGISTRYINDEX, op->str_state);
        lua_rawget(L, -2);
    }
    /* stack: handler fn ev ctx [st] */
    int nres = op->kind == OP_MAP || op->kind == OP_FILTER;
    if (eddy_vm_pcall(op->vm, top + 1, 2 + op->state_arg, nres) != 0)
        eddy_op_error(op, L, ev, 0, eddy_vm_error(op->vm));
    else if (nres)
        op_result(op, L, ev);
    lua_settop(L, top);
}

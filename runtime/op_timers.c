/* op_timers.c - an operator's timers and watermark.
 *
 * Processing-time timers: one alarm (clock.h) per operator, set for the
 * earliest pending time; event-time timers fire when the operator's
 * watermark (node.c) passes them. Either way on_timer(ts, ctx, kind) runs
 * with the timer's key's ctx.key and ctx.state, through the same protected
 * call and error policy as process. Timers are written as one record per
 * operator at every checkpoint and re-armed at recovery; processing-time
 * timers that came due meanwhile fire at once. The operator owns its
 * timers (timers.c) and its alarm. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "operator_impl.h"
#include "state_codec.h"
#include "texts.h"

static void op_arm(eddy_op *op);

/* The key of the call in hand, for timers: pushes it or raises.
 * [-0, +1, e] */
static eddy_op *timer_key(lua_State *L, const char *what) {
    eddy_op *op = eddy_op_of_ctx(L);
    if (!op->keyed) luaL_error(L, "ctx:%s needs a keyed stream (key_by)", what);
    eddy_op_push_key(op, L);
    if (lua_isnil(L, -1))
        luaL_error(L,
                   "ctx:%s: no key in hand (call it from process or "
                   "on_timer)",
                   what);
    return op;
}

/* ctx:timer(ms) / ctx:event_timer(ms) [-0, +0, e] */
static int add_timer(lua_State *L, int kind, const char *what) {
    lua_Integer when = luaL_checkinteger(L, 2);
    lua_settop(L, 2);
    eddy_op *op = timer_key(L, what);
    if (eddy_timers_add(op->timers, L, kind, when, 3) != 0)
        return luaL_error(L, "ctx:%s: out of memory", what);
    if (kind == EDDY_TIMER_PROCESSING) op_arm(op);
    return 0;
}

static int ctx_timer(lua_State *L) {
    return add_timer(L, EDDY_TIMER_PROCESSING, "timer");
}

static int ctx_event_timer(lua_State *L) {
    return add_timer(L, EDDY_TIMER_EVENT, "event_timer");
}

/* ctx:cancel_timer(ms [, kind]): kind "processing", "event" or both.
 * [-0, +0, e] */
static int ctx_cancel_timer(lua_State *L) {
    static const char *const kinds_opt[] = {"processing", "event", "both",
                                            NULL};
    lua_Integer when = luaL_checkinteger(L, 2);
    int which = luaL_checkoption(L, 3, "both", kinds_opt);
    lua_settop(L, 3);
    eddy_op *op = timer_key(L, "cancel_timer");
    for (int kind = 0; kind < 2; kind++)
        if (which == 2 || which == kind)
            eddy_timers_cancel(op->timers, L, kind, when, 4);
    return 0;
}

/* ctx:watermark(): the operator's event-time watermark (math.mininteger
 * before the first one, math.maxinteger when its inputs ended). */
static int ctx_watermark(lua_State *L) {
    lua_pushinteger(L, eddy_node_watermark(eddy_op_of_ctx(L)->node));
    return 1;
}

const luaL_Reg eddy_op_timer_methods[] = {{"timer", ctx_timer},
                                          {"event_timer", ctx_event_timer},
                                          {"cancel_timer", ctx_cancel_timer},
                                          {"watermark", ctx_watermark},
                                          {NULL, NULL}};

static const char *const timer_kinds[2] = {"processing", "event"};

/* Pushes the record a failed timer call leaves as its "event". */
static void timer_event(lua_State *L, int64_t when, int kind) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, when);
    lua_setfield(L, -2, "timer");
    lua_pushstring(L, timer_kinds[kind]);
    lua_setfield(L, -2, "kind");
}

/* A timer's identity for poison pills: its key's bytes hashed as texts.c
 * hashes a script, then its kind and time mixed in. [-0, +0, -] */
static uint64_t timer_id(lua_State *L, int key, int kind, int64_t when) {
    size_t n = 0;
    lua_Integer i = 0;
    const char *s =
        lua_type(L, key) == LUA_TSTRING ? lua_tolstring(L, key, &n) : NULL;
    if (s == NULL)
        i = lua_tointeger(L, key), s = (const char *)&i, n = sizeof i;
    uint64_t h = (eddy_texts_hash(s, n) ^ (uint64_t)kind) * 1099511628211ULL;
    return (h ^ (uint64_t)when) * 1099511628211ULL;
}

/* on_timer(when, ctx, kind) for the key at index key. [-0, +0, m] */
static void op_call_timer(eddy_op *op, lua_State *L, int64_t when, int kind,
                          int key) {
    int top = lua_gettop(L), h = top + 1;
    eddy_vm_push_handler(op->vm);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->ctx_ref);
    int ctx = lua_gettop(L);
    eddy_op_begin_key(op, L, ctx, key);
    lua_rawgeti(L, LUA_REGISTRYINDEX, op->mod_ref);
    lua_getfield(L, -1, "on_timer");
    lua_remove(L, -2);
    int rc = 0;
    if (!lua_isfunction(L, -1)) {
        eddy_warn("operator %s: a timer fired but the script has no "
                  "on_timer function",
                  op->name);
    } else {
        lua_pushinteger(L, when);
        lua_pushvalue(L, ctx);
        lua_pushstring(L, timer_kinds[kind]);
        /* stack: handler ctx on_timer when ctx kind */
        eddy_job_set_timestamp(op->job, kind == EDDY_TIMER_EVENT, when);
        eddy_job_set_timer_origin(op->job, timer_id(L, key, kind, when));
        rc = eddy_vm_pcall(op->vm, h, 3, 0);
    }
    int bad = eddy_op_writeback(op, L, ctx, key);
    if (rc != 0 || bad) {
        timer_event(L, when, kind);
        if (rc != 0)
            eddy_op_error(op, L, lua_gettop(L), key, eddy_vm_error(op->vm));
        else
            eddy_op_state_error(op, L, lua_gettop(L), key, bad);
    }
    /* an operator taking its state as an argument runs without ctx.state
     * set: clear what this call set (settle also drops the key) */
    if (op->state_arg && !op->state_eager) eddy_op_ctx_settle(op, L, ctx);
    op->key_type = LUA_TNIL;
    lua_settop(L, top);
}

/* Fires every timer of kind due at or before limit, in time order.
 * [-0, +0, m] */
static void op_fire(eddy_op *op, lua_State *L, int kind, int64_t limit) {
    int64_t when;
    while (!eddy_job_failed(op->job) &&
           eddy_timers_pop(op->timers, L, kind, limit, &when)) {
        int keys = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, keys);
        for (lua_Integer i = 1; i <= n && !eddy_job_failed(op->job); i++) {
            lua_rawgeti(L, keys, i);
            op_call_timer(op, L, when, kind, lua_gettop(L));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* The watermark passed: event-time timers up to it fire. */
static void op_on_watermark(void *self, int64_t wm) {
    eddy_op *op = self;
    if (op->timers) op_fire(op, eddy_vm_state(op->vm), EDDY_TIMER_EVENT, wm);
}

static int fire_due(lua_State *L, void *ud) {
    eddy_op *op = ud;
    op_fire(op, L, EDDY_TIMER_PROCESSING,
            eddy_clock_now(eddy_job_clock(op->job)));
    return 0;
}

static void palarm_cb(void *data) {
    eddy_op *op = data;
    if (eddy_vm_protect(op->vm, fire_due, op) != 0)
        eddy_job_fail(op->job, "operator %s: timers: %s", op->name,
                      eddy_vm_error(op->vm));
    op_arm(op);
}

/* Sets the alarm for the earliest processing-time timer. */
static void op_arm(eddy_op *op) {
    int64_t next = eddy_timers_next(op->timers, EDDY_TIMER_PROCESSING);
    if (op->palarm == NULL || next == eddy_alarm_at(op->palarm)) return;
    if (next == INT64_MAX)
        eddy_alarm_cancel(op->palarm);
    else
        eddy_alarm_set(op->palarm, next);
}

int eddy_op_timers_setup(eddy_op *op) {
    eddy_node_on_watermark(op->node, op_on_watermark);
    if (!op->keyed) return 0;
    op->palarm = eddy_alarm_new(eddy_job_clock(op->job), palarm_cb, op, 0);
    return op->palarm ? 0 : -1;
}

void eddy_op_timers_stop(eddy_op *op) {
    eddy_alarm_free(op->palarm);
    op->palarm = NULL;
}

/* The store key of an operator's timers into b. */
static void timers_key(const eddy_op *op, eddy_buf *b) {
    eddy_buf_reset(b);
    eddy_buf_addc(b, EDDY_KEY_TIMERS);
    eddy_buf_adds(b, op->name);
}

/* Every pending timer, as one record. [-0, +0, m] */
int eddy_op_timers_snapshot(eddy_op *op, lua_State *L, eddy_batch *b, char *err,
                            size_t errlen) {
    timers_key(op, &op->kbuf);
    if (eddy_timers_count(op->timers) == 0) {
        eddy_batch_delete(b, op->kbuf.data, op->kbuf.len);
        return 0;
    }
    eddy_timers_snapshot(op->timers, L);
    eddy_buf_reset(&op->vbuf);
    int rc = eddy_codec_encode(L, -1, "timers", &op->vbuf, err, errlen);
    lua_pop(L, 1);
    if (rc == 0)
        eddy_batch_put(b, op->kbuf.data, op->kbuf.len, op->vbuf.data,
                       op->vbuf.len);
    return rc;
}

int eddy_op_timers_restore(eddy_op *op, lua_State *L, eddy_store *store,
                           char *err, size_t errlen) {
    timers_key(op, &op->kbuf);
    int rc = eddy_store_get(store, op->kbuf.data, op->kbuf.len, &op->vbuf, err,
                            errlen);
    if (rc == 1 && (rc = eddy_codec_decode(L, op->vbuf.data, op->vbuf.len, err,
                                           errlen)) == 0) {
        eddy_timers_restore(op->timers, L, -1);
        lua_pop(L, 1);
        op_arm(op);
    }
    return rc;
}

void eddy_op_push_timers(eddy_op *op, lua_State *L) {
    if (op->timers)
        eddy_timers_snapshot(op->timers, L);
    else
        lua_pushnil(L);
}

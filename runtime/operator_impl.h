/* operator_impl.h - private to the operator module (operator.c,
 * op_event.c and op_timers.c): the operator struct and the helpers both files
 * use. Not for the rest of the runtime, which sees eddy_op as opaque. */
#ifndef EDDY_OPERATOR_IMPL_H
#define EDDY_OPERATOR_IMPL_H

#include <ev.h>
#include <lauxlib.h>
#include <sys/stat.h>

#include "buf.h"
#include "operator.h"
#include "opstate.h"
#include "timers.h"
#include "vm.h"

enum { OP_MAP, OP_FILTER, OP_FLAT_MAP, OP_PROCESS };
enum { POL_FAIL, POL_SKIP, POL_DEAD };

struct eddy_op {
    eddy_job *job;
    eddy_vm *vm;
    eddy_node *node;
    int kind, policy, keyed;
    int accepts_late; /* M.accepts_late: late events go to process, which
                         decides (windows with allowed lateness) */
    char *name, *script, *where;
    int mod_ref;         /* script module table, or LUA_NOREF */
    int fn_ref;          /* process function */
    int ctx_ref;         /* the ctx table */
    eddy_opstate *state; /* keyed: per-key state (opstate.c) */
    int keyfn_ref;       /* key_by(function) */
    int keyfield_ref;    /* key_by(field): the field name string */
    int keyself;         /* key_by(): the event is its own key */
    int key_type;        /* the key in hand, which ctx.key reads through */
    const char *key_s;   /* __index: LUA_TNIL (none), a string (pointing */
    size_t key_len;      /* into the key's Lua string, alive on the stack */
    lua_Integer key_i;   /* during the call) or an integer */
    int key_eager;       /* the script reads ctx.key: each call sets it raw */
    int state_arg;       /* process takes a third parameter: the state */
    int state_eager;     /* the script touched ctx.state: each call sets it */
    const void *handed;  /* the state ctx_index handed out in this call */
    eddy_buf kbuf, vbuf; /* checkpoint scratch (owned: survives errors) */
    int str_state, str_key; /* refs to "state" and "key": pushing a C
                               string costs a string-cache lookup */
    eddy_timers *timers;    /* keyed: pending timers */
    eddy_alarm *palarm;     /* set for the earliest processing-time timer */
    unsigned long long late;
    unsigned bad_hook_results; /* on_error results that were no policy */
    eddy_op_stats st;
    /* hot reload (reload.c) */
    int has_version;
    int64_t version;  /* the script's M.version */
    uint64_t hash;    /* of the script's text */
    ev_timer watch;   /* polls the script file's stat */
    struct stat seen; /* its stat when last looked at */
    ev_timer settle;  /* debounce: reload once the file is quiet */
    int watching;
    unsigned long reloads, reload_failures;
};

extern const char *const eddy_op_policies[]; /* by POL_ value */

/* op_event.c: the node's push (one event through the operator). */
void eddy_op_push(void *self, lua_State *L, int ev);

/* The operator a ctx method runs for (upvalue 1). [-0, +0, -] */
eddy_op *eddy_op_of_ctx(lua_State *L);
/* A call for the key at index key: sets ctx.key, and ctx.state to a hot
 * state or nil; after it, eddy_op_writeback files what the call did to
 * ctx.state (and leaves it set); the caller then sets op->key_type to
 * LUA_TNIL. [-0, +0, m] */
void eddy_op_begin_key(eddy_op *op, lua_State *L, int ctx, int key);
int eddy_op_writeback(eddy_op *op, lua_State *L, int ctx, int key);
/* eddy_op_writeback returns the type of a ctx.state that is neither a
 * table nor nil (refused: the key's state stays as it was), else 0; this
 * reports it as the call's error, for on_error. [-0, +0, m] */
void eddy_op_state_error(eddy_op *op, lua_State *L, int ev, int key, int t);
/* Whether the function at idx declares a third parameter (process(ev,
 * ctx, state)). [-0, +0, -] */
int eddy_op_wants_state(lua_State *L, int idx);
/* Makes the key at index key of L the key in hand (0: none), as ctx.key
 * of the ctx at index ctx. [-0, +0, m] */
void eddy_op_set_key(eddy_op *op, lua_State *L, int ctx, int key);
/* Pushes the key in hand, or nil. [-0, +1, -] */
void eddy_op_push_key(eddy_op *op, lua_State *L);
/* Clears a keyed operator's ctx.state (at ctx) left by its last call,
 * before a hook that gets ctx outside an event (open, close, migrate).
 * [-0, +0, m] */
void eddy_op_ctx_settle(eddy_op *op, lua_State *L, int ctx);
/* Applies the operator's error policy to a failed call on the event at ev
 * (key at key, 0 for none). [-0, +0, -] */
void eddy_op_error(eddy_op *op, lua_State *L, int ev, int key, const char *msg);

/* op_timers.c: ctx:timer, ctx:event_timer, ctx:cancel_timer and
 * ctx:watermark (upvalue 1: the operator). */
extern const luaL_Reg eddy_op_timer_methods[];
int eddy_op_timers_setup(eddy_op *op); /* 0, or -1: out of memory */
void eddy_op_timers_stop(eddy_op *op);
/* Checkpoints: all pending timers as one record; back at recovery. */
int eddy_op_timers_snapshot(eddy_op *op, lua_State *L, eddy_batch *b, char *err,
                            size_t errlen);
int eddy_op_timers_restore(eddy_op *op, lua_State *L, eddy_store *store,
                           char *err, size_t errlen);

/* Runs the script's open(ctx), if any: 0, or -1 with the error in the vm
 * (the job goes on: a reload decides what a failed open means). */
int eddy_op_call_open(eddy_op *op);

/* reload.c */
void eddy_op_read_version(eddy_op *op, lua_State *L, int mod);

#endif

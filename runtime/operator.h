/* operator.h - user operators: map, filter, flat_map and process. */
#ifndef EDDY_OPERATOR_H
#define EDDY_OPERATOR_H

#include <lua.h>
#include <stddef.h>

#include "job.h"
#include "node.h"
#include "store.h"

typedef struct eddy_op eddy_op;

/* Builds an operator from the description table at index desc, as the job
 * DSL makes it: { kind = "map"|"filter"|"flat_map"|"process", name = ...,
 * script = path | fn = function, key = field | function | nil,
 * on_error = "fail"|"skip"|"dead_letter", where = "job.lua:12" }.
 * Script operators are loaded and checked here. NULL with err on failure.
 * [-0, +0, -] */
eddy_op *eddy_op_new(eddy_job *job, lua_State *L, int desc, char *err,
                     size_t errlen);
void eddy_op_free(eddy_op *op);
eddy_node *eddy_op_node(eddy_op *op);
const char *eddy_op_name(const eddy_op *op);

/* Runs the script's open(ctx) / close(ctx) if it has one. open returns -1
 * on error (the job fails); close errors are logged. */
int eddy_op_open(eddy_op *op);
void eddy_op_close(eddy_op *op);

/* Checkpoints: writes the state changed since the last checkpoint into b
 * (*nkeys: records written) and holds it aside until commit (durable) or
 * rollback (the write failed). -1 with err naming operator, key and path
 * when a state cannot be checkpointed; nothing is then changed. */
int eddy_op_snapshot(eddy_op *op, eddy_batch *b, size_t *nkeys, char *err,
                     size_t errlen);
void eddy_op_commit(eddy_op *op);
void eddy_op_rollback(eddy_op *op);
/* Recovery: state comes from store (operator-wide state at once, per-key
 * state lazily). 0 or -1 with err. */
int eddy_op_restore(eddy_op *op, eddy_store *store, char *err, size_t errlen);
/* Pushes the state of the key at index key (operator-wide state when the
 * operator is not keyed), or nil. 0 or -1 with err. [-0, +1, m] */
int eddy_op_peek_state(eddy_op *op, lua_State *L, int key, char *err,
                       size_t errlen);

/* Hot reload (reload.c): reloads the script now (0), or keeps the running
 * version and logs why (-1). */
int eddy_op_reload(eddy_op *op);
/* 1 if the operator's script file no longer holds the text that runs. */
int eddy_op_script_stale(eddy_op *op);
/* Tests: reloads from another script file, which then stands for the
 * operator's script. 0, or -1 with err (the running version stays).
 * [-0, +0, -] */
int eddy_op_reload_from(eddy_op *op, const char *path, char *err,
                        size_t errlen);
/* Pushes the pending timers as { processing = { [ms] = {key...} },
 * event = {...} }, or nil for an operator without keys. [-0, +1, m] */
void eddy_op_push_timers(eddy_op *op, lua_State *L);
/* Follows the script file: a change reloads it. */
void eddy_op_watch(eddy_op *op);
void eddy_op_unwatch(eddy_op *op);
/* Pushes { version = n, hash = "hex" } for the checkpoint record.
 * [-0, +1, m] */
void eddy_op_describe(eddy_op *op, lua_State *L);
/* Recovery: the checkpoint's state is version from; migrates it when the
 * script's version differs. 0, or -1 with err. */
int eddy_op_migrate_from(eddy_op *op, int64_t from, char *err, size_t n);

typedef struct eddy_op_stats {
    unsigned long long in, out, errors, skipped, dead_letters, late;
    unsigned long reloads, reload_failures;
    size_t timers; /* pending */
} eddy_op_stats;
void eddy_op_get_stats(const eddy_op *op, eddy_op_stats *st);
/* Keys with state held in memory (keyed operators; else 0). Walks them:
 * for scrapes, not for the event path. [-0, +0, -] */
size_t eddy_op_keys(eddy_op *op);

#endif

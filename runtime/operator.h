/* operator.h - user operators: map, filter, flat_map and process. */
#ifndef EDDY_OPERATOR_H
#define EDDY_OPERATOR_H

#include <lua.h>
#include <stddef.h>

#include "job.h"
#include "node.h"

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

typedef struct eddy_op_stats {
    unsigned long long in, out, errors, skipped, dead_letters;
} eddy_op_stats;
void eddy_op_get_stats(const eddy_op *op, eddy_op_stats *st);

#endif

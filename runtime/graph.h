/* graph.h - the dataflow of a job: its sources, operators and sinks. */
#ifndef EDDY_GRAPH_H
#define EDDY_GRAPH_H

#include <lua.h>
#include <stddef.h>

#include "job.h"
#include "store.h"

typedef struct eddy_graph eddy_graph;

/* Builds the graph from the plan table at index plan (what the job DSL's
 * job:plan() returns). Relative paths resolve against dir. NULL with err
 * ("job.lua:12: ...") on failure. [-0, +0, -] */
eddy_graph *eddy_graph_build(eddy_job *job, lua_State *L, int plan,
                             const char *dir, char *err, size_t errlen);
void eddy_graph_free(eddy_graph *g);

/* Opens every operator (open hooks) and starts every source: 0 or -1. */
int eddy_graph_start(eddy_graph *g, char *err, size_t errlen);
/* Stops reading from all sources. */
void eddy_graph_stop_sources(eddy_graph *g);
/* Events (and bad lines) all sources delivered so far. */
unsigned long long eddy_graph_source_events(const eddy_graph *g);
/* Whether every source has finished. */
int eddy_graph_drained(const eddy_graph *g);
/* Writes every sink's buffer: 0, or -1 with err. */
int eddy_graph_flush(eddy_graph *g, char *err, size_t errlen);
/* Runs close hooks and makes file sinks durable. */
int eddy_graph_close(eddy_graph *g, char *err, size_t errlen);
/* Logs a one-line summary per source and operator at info level. */
void eddy_graph_log_summary(const eddy_graph *g);
/* Checkpoints: writes every operator's changed state into b and fills the
 * record table at rec with sources = {name = position} and sinks = {name =
 * committed length}. 0, or -1 with err and every operator rolled back.
 * [-0, +0, m] */
int eddy_graph_snapshot(eddy_graph *g, lua_State *L, int rec, eddy_batch *b,
                        size_t *nkeys, char *err, size_t errlen);
void eddy_graph_commit(eddy_graph *g);
void eddy_graph_rollback(eddy_graph *g);
/* File descriptors of file sinks (to make durable before a checkpoint
 * lands); returns how many, at most max. */
int eddy_graph_sink_fds(const eddy_graph *g, int *fds, int max);
/* Recovery, before start: positions and sink lengths from the record at
 * rec, state from store. 0, or -1 with err. [-0, +0, m] */
int eddy_graph_restore(eddy_graph *g, lua_State *L, int rec, eddy_store *store,
                       char *err, size_t errlen);
/* SIGHUP: reloads every operator script (failures keep the old one); with
 * stale_only, those whose file no longer holds the text that runs (after a
 * restart, which resumes the code that ran). */
void eddy_graph_reload(eddy_graph *g, eddy_vm *vm, int stale_only);
/* The job's watermark: the minimum over its sources (idle ones aside). */
int64_t eddy_graph_watermark(const eddy_graph *g);
/* Finds a source, an operator by name (NULL if none). */
struct eddy_source *eddy_graph_source(eddy_graph *g, const char *name);
struct eddy_op *eddy_graph_op(eddy_graph *g, const char *name);
/* For metrics: the graph's sources, operators and sinks by index
 * (0 <= i < the count). */
int eddy_graph_nsources(const eddy_graph *g);
int eddy_graph_nops(const eddy_graph *g);
int eddy_graph_nsinks(const eddy_graph *g);
struct eddy_source *eddy_graph_source_at(const eddy_graph *g, int i);
struct eddy_op *eddy_graph_op_at(const eddy_graph *g, int i);
struct eddy_sink *eddy_graph_sink_at(const eddy_graph *g, int i);
/* Finds a sink by name or path (NULL if none). */
struct eddy_sink *eddy_graph_sink(eddy_graph *g, const char *name_or_path);

#endif

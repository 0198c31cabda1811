/* sink.h - where events leave the job: files and stdout. */
#ifndef EDDY_SINK_H
#define EDDY_SINK_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "node.h"

typedef struct eddy_sink eddy_sink;

/* From a description { kind = "file"|"stdout", name, path, format }.
 * Relative paths resolve against dir. NULL with err on failure.
 * [-0, +0, -] */
eddy_sink *eddy_sink_new(eddy_job *job, lua_State *L, int desc, const char *dir,
                         char *err, size_t errlen);
/* Opens (creating and emptying) a file sink's file; no-op for stdout.
 * Not done by eddy_sink_new, so that `eddy check` touches no file. */
int eddy_sink_open(eddy_sink *s, char *err, size_t errlen);
/* A JSON file sink at path (used for dead letters); open it with
 * eddy_sink_open. */
eddy_sink *eddy_sink_new_file(eddy_job *job, const char *name, const char *path,
                              char *err, size_t errlen);
void eddy_sink_free(eddy_sink *s);
eddy_node *eddy_sink_node(eddy_sink *s);
const char *eddy_sink_name(const eddy_sink *s);
const char *eddy_sink_path(const eddy_sink *s);

/* Encodes the value at idx as one record: 0, or -1 with err (nothing
 * written). [-0, +0, m] */
int eddy_sink_write(eddy_sink *s, lua_State *L, int idx, char *err,
                    size_t errlen);
/* Writes what is buffered; 0, or -1 with err (the data stays buffered). */
int eddy_sink_flush(eddy_sink *s, char *err, size_t errlen);
/* Flushes and makes the file durable (fdatasync). */
int eddy_sink_sync(eddy_sink *s, char *err, size_t errlen);
/* Checkpoints: flushes and gives the file's length, what a checkpoint
 * commits. 0, or -1 with err. */
int eddy_sink_committed(eddy_sink *s, uint64_t *len, char *err, size_t n);
/* Recovery, before eddy_sink_open: keep the file and cut it back to len. */
void eddy_sink_set_restore(eddy_sink *s, uint64_t len);
/* The file descriptor to make durable, or -1 (stdout). */
int eddy_sink_fd(const eddy_sink *s);
/* Whether a checkpoint commits the sink's length (file and memory sinks;
 * stdout is at-least-once). */
int eddy_sink_exactly_once(const eddy_sink *s);
/* Records written so far. */
unsigned long long eddy_sink_count(const eddy_sink *s);

#endif

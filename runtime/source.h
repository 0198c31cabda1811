/* source.h - where events enter the job: file, stdin, tcp and script. */
#ifndef EDDY_SOURCE_H
#define EDDY_SOURCE_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "node.h"

typedef struct eddy_source eddy_source;

/* From a description { kind = "file"|"stdin"|"tcp"|"script", name, path,
 * format, follow, host, port, interval_ms, max_line_bytes }. Relative
 * paths resolve against dir. NULL with err on failure. [-0, +0, -] */
eddy_source *eddy_source_new(eddy_job *job, lua_State *L, int desc,
                             const char *dir, char *err, size_t errlen);
/* Starts reading on the job's loop: 0, or -1 with err. */
int eddy_source_start(eddy_source *s, char *err, size_t errlen);
/* Stops reading; buffered lines not yet delivered stay undelivered. */
void eddy_source_stop(eddy_source *s);
void eddy_source_free(eddy_source *s);
eddy_node *eddy_source_node(eddy_source *s);
const char *eddy_source_name(const eddy_source *s);
int eddy_source_is_done(const eddy_source *s);
unsigned long long eddy_source_count(const eddy_source *s);
/* What the source's positions count: "byte" (file, stdin, tcp), "event"
 * (script) or "input" (the testing kit's inputs). */
const char *eddy_source_unit(const eddy_source *s);
unsigned long long eddy_source_bad(const eddy_source *s);
/* The source's watermark; *idle set when it is idle. */
int64_t eddy_source_watermark(const eddy_source *s, int *idle);
/* Checkpoints: pushes the source's position (table, or nil when it cannot
 * replay). [-0, +1, m] */
void eddy_source_snapshot(eddy_source *s, lua_State *L);
/* Recovery, before start: rewinds to the position at idx. 0 or -1 (err). */
int eddy_source_restore(eddy_source *s, lua_State *L, int idx, char *err,
                        size_t errlen);

/* ---- for the source kinds ---------------------------------------------- */

typedef struct eddy_source_ops {
    int (*start)(void *impl, char *err, size_t errlen);
    void (*stop)(void *impl);
    void (*free)(void *impl);
    /* Pushes the position to checkpoint (a table), or nil when the source
     * cannot replay. [-0, +1, m] */
    void (*snapshot)(void *impl, lua_State *L);
    /* Takes the position at idx (as snapshot made it) before start.
     * 0 or -1 with err. [-0, +0, m] */
    int (*restore)(void *impl, lua_State *L, int idx, char *err, size_t errlen);
} eddy_source_ops;

/* Each kind's constructor reads its fields from the description at desc
 * and attaches itself with eddy_source_attach. 0 or -1 with err. */
int eddy_source_file_init(eddy_source *s, lua_State *L, int desc,
                          const char *dir, char *err, size_t errlen);
int eddy_source_tcp_init(eddy_source *s, lua_State *L, int desc, char *err,
                         size_t errlen);
int eddy_source_script_init(eddy_source *s, lua_State *L, int desc,
                            const char *dir, char *err, size_t errlen);

/* A feed (memio.h) at desc.feed, for the testing kit. */
int eddy_source_memory_init(eddy_source *s, lua_State *L, int desc, char *err,
                            size_t errlen);

void eddy_source_attach(eddy_source *s, const eddy_source_ops *ops, void *impl);
eddy_job *eddy_source_job(eddy_source *s);
size_t eddy_source_max_line(const eddy_source *s);
/* Decodes one line read at stream offset pos and sends the event on; an
 * undecodable line goes to the dead letters. [-0, +0, -] */
void eddy_source_line(eddy_source *s, const char *line, size_t len,
                      uint64_t pos);
/* Delivers every complete line buffered in lines (eddy_source_line and
 * _long_line), in protected mode: an out-of-memory error there fails the
 * job instead of escaping. Stops early when the job halts. */
struct eddy_lines;
void eddy_source_drain(eddy_source *s, struct eddy_lines *lines);
/* The same, but returns 1 early, between two lines, when the loop is
 * wanted (a signal, a checkpoint written) or 50-100 ms have passed: a slow
 * operator on a long chunk must not keep signals, timers and checkpoints
 * waiting. The rest stay buffered: the caller must
 * come back (its idle watcher still running) and drain them before it
 * reads more, and until it has, the other sources hold their turns
 * (eddy_job_turn_held). Else 0. */
int eddy_source_drain_some(eddy_source *s, struct eddy_lines *lines);
/* Reports a line over max_line_bytes that was dropped: len bytes at pos,
 * of which prefix holds the first plen. */
void eddy_source_long_line(eddy_source *s, const char *prefix, size_t plen,
                           size_t len, uint64_t pos);
/* Sends the value at idx on (script sources). [-0, +0, -] */
void eddy_source_value(eddy_source *s, lua_State *L, int idx, uint64_t pos);
/* Sends the value at idx on with the event time ts given by a test (no
 * watermark follows from it: tests set watermarks). [-0, +0, -] */
void eddy_source_value_at(eddy_source *s, lua_State *L, int idx, uint64_t pos,
                          int64_t ts);
/* Tests: moves the source's watermark to wm (timers downstream fire).
 * [-0, +0, m] */
void eddy_source_set_watermark(eddy_source *s, int64_t wm);
/* The source has nothing more to read, ever. */
void eddy_source_finished(eddy_source *s);
/* Whether the source should stop delivering (job stopping or failed). */
int eddy_source_halted(const eddy_source *s);

#endif

/* source.c - what all sources share: decoding, delivery, bad input.
 *
 * A source kind (source_file.c, source_tcp.c, source_script.c) reads bytes
 * or values on the loop and hands each line here; this module decodes it,
 * records where it came from (for error messages, dead letters and, later,
 * checkpoints) and emits it down the graph. Bad input never stops a job:
 * it is counted, logged and written to the dead letters. The source owns
 * its kind's implementation and its node. */
#include "source.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "log.h"

#define DEFAULT_MAX_LINE (1024 * 1024)
#define BAD_LOG_LIMIT 10 /* warn for the first bad lines, then count */

struct eddy_source {
    eddy_job *job;
    eddy_node *node;
    char *name;
    int fmt, done, started;
    size_t max_line;
    const eddy_source_ops *ops;
    void *impl;
    unsigned long long count, bad;
};

eddy_node *eddy_source_node(eddy_source *s) { return s->node; }
const char *eddy_source_name(const eddy_source *s) { return s->name; }
int eddy_source_is_done(const eddy_source *s) { return s->done; }
unsigned long long eddy_source_count(const eddy_source *s) { return s->count; }
unsigned long long eddy_source_bad(const eddy_source *s) { return s->bad; }
eddy_job *eddy_source_job(eddy_source *s) { return s->job; }
size_t eddy_source_max_line(const eddy_source *s) { return s->max_line; }

void eddy_source_attach(eddy_source *s, const eddy_source_ops *ops,
                        void *impl) {
    s->ops = ops;
    s->impl = impl;
}

int eddy_source_halted(const eddy_source *s) {
    return eddy_job_stopping(s->job) || eddy_job_failed(s->job);
}

static void bad_input(eddy_source *s, const char *why, const char *raw,
                      size_t len, uint64_t pos) {
    s->bad++;
    if (s->bad <= BAD_LOG_LIMIT)
        eddy_warn("source %s at byte %llu: %s%s", s->name,
                  (unsigned long long)pos, why,
                  s->bad == BAD_LOG_LIMIT ? " (further bad lines are only "
                                            "counted and dead-lettered)" : "");
    lua_State *L = eddy_vm_state(eddy_job_vm(s->job));
    eddy_job_set_origin(s->job, s->name, pos);
    eddy_job_dead_letter(s->job, why, NULL, L, 0, 0, raw, len);
}

void eddy_source_line(eddy_source *s, const char *line, size_t len,
                      uint64_t pos) {
    lua_State *L = eddy_vm_state(eddy_job_vm(s->job));
    char err[256];
    if (eddy_format_decode(L, s->fmt, line, len, err, sizeof err) != 0) {
        char why[300];
        snprintf(why, sizeof why, "invalid JSON: %s", err);
        bad_input(s, why, line, len, pos);
        return;
    }
    s->count++;
    eddy_job_set_origin(s->job, s->name, pos);
    eddy_node_emit(s->node, L, lua_gettop(L), NULL);
    lua_pop(L, 1);
}

void eddy_source_long_line(eddy_source *s, size_t len, uint64_t pos) {
    char why[200];
    snprintf(why, sizeof why, "line of %zu bytes is longer than "
             "max_line_bytes (%zu)", len, s->max_line);
    bad_input(s, why, "", 0, pos);
}

void eddy_source_value(eddy_source *s, lua_State *L, int idx, uint64_t pos) {
    s->count++;
    eddy_job_set_origin(s->job, s->name, pos);
    eddy_node_emit(s->node, L, idx, NULL);
}

void eddy_source_finished(eddy_source *s) {
    if (s->done) return;
    s->done = 1;
    eddy_debug("source %s: finished after %llu events", s->name, s->count);
    eddy_job_source_done(s->job);
}

/* Reads kind-independent fields and dispatches to the kind. */
static int source_init(eddy_source *s, lua_State *L, int desc, const char *dir,
                       char *err, size_t errlen) {
    lua_getfield(L, desc, "format");
    s->fmt = eddy_format_parse(lua_tostring(L, -1));
    lua_getfield(L, desc, "max_line_bytes");
    s->max_line = lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0
                      ? (size_t)lua_tointeger(L, -1) : DEFAULT_MAX_LINE;
    lua_getfield(L, desc, "kind");
    const char *kind = lua_tostring(L, -1);
    /* stack: format max_line kind */
    int rc = -1;
    if (s->fmt < 0)
        snprintf(err, errlen, "source %s: unknown format (lines or json)",
                 s->name);
    else if (kind && (!strcmp(kind, "file") || !strcmp(kind, "stdin")))
        rc = eddy_source_file_init(s, L, desc, dir, err, errlen);
    else if (kind && !strcmp(kind, "tcp"))
        rc = eddy_source_tcp_init(s, L, desc, err, errlen);
    else if (kind && !strcmp(kind, "script"))
        rc = eddy_source_script_init(s, L, desc, dir, err, errlen);
    else
        snprintf(err, errlen, "source %s: unknown kind %s", s->name,
                 kind ? kind : "(none)");
    lua_pop(L, 3);
    return rc;
}

eddy_source *eddy_source_new(eddy_job *job, lua_State *L, int desc,
                             const char *dir, char *err, size_t errlen) {
    eddy_source *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->job = job;
    lua_getfield(L, desc, "name");
    s->name = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "source");
    lua_pop(L, 1);
    if (s->name == NULL || (s->node = eddy_node_new(s->name, NULL, s)) == NULL ||
        source_init(s, L, desc, dir, err, errlen) != 0) {
        eddy_source_free(s);
        return NULL;
    }
    return s;
}

int eddy_source_start(eddy_source *s, char *err, size_t errlen) {
    s->started = 1;
    return s->ops->start(s->impl, err, errlen);
}

void eddy_source_stop(eddy_source *s) {
    if (s->ops && s->started) s->ops->stop(s->impl);
}

void eddy_source_free(eddy_source *s) {
    if (s == NULL) return;
    if (s->ops) {
        eddy_source_stop(s);
        s->ops->free(s->impl);
    }
    eddy_node_free(s->node);
    free(s->name);
    free(s);
}

void eddy_source_snapshot(eddy_source *s, lua_State *L) {
    if (s->ops->snapshot)
        s->ops->snapshot(s->impl, L);
    else
        lua_pushnil(L);
}

int eddy_source_restore(eddy_source *s, lua_State *L, int idx, char *err,
                        size_t errlen) {
    if (lua_isnil(L, idx) || s->ops->restore == NULL) return 0;
    return s->ops->restore(s->impl, L, lua_absindex(L, idx), err, errlen);
}

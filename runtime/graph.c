/* graph.c - builds and drives the dataflow described by a job's plan.
 *
 * The plan is a list of nodes in creation order (the job DSL guarantees
 * that a node's inputs come before it, so the graph is acyclic). Each plan
 * node becomes a source, an operator or a sink, and its inputs become
 * edges. Errors name the job file line that declared the node. The graph
 * owns every source, operator and sink it built. */
#include "graph.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "operator.h"
#include "sink.h"
#include "source.h"
#include "store.h"

struct eddy_graph {
    eddy_job *job;
    eddy_source **sources;
    eddy_op **ops;
    eddy_sink **sinks;
    int nsources, nops, nsinks;
    eddy_node **byid; /* plan id -> node, for wiring */
    int nids;
};

static int push_ptr(void *arr, int *n, void *p) {
    void ***a = arr;
    void **na = realloc(*a, (size_t)(*n + 1) * sizeof *na);
    if (na == NULL) return -1;
    na[(*n)++] = p;
    *a = na;
    return 0;
}

/* Connects the inputs listed in the node description at desc to to. */
static int wire(eddy_graph *g, lua_State *L, int desc, eddy_node *to, char *err,
                size_t errlen) {
    lua_getfield(L, desc, "inputs");
    int n = (int)lua_rawlen(L, -1), rc = 0;
    for (int i = 1; i <= n && rc == 0; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "id");
        lua_getfield(L, -2, "side");
        /* stack: inputs input id side */
        int id = (int)lua_tointeger(L, -2);
        const char *side = lua_tostring(L, -1);
        if (id < 1 || id > g->nids || g->byid[id - 1] == NULL) {
            snprintf(err, errlen, "input %d is not a node of this job", id);
            rc = -1;
        } else if (eddy_node_connect(g->byid[id - 1], side, to) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
    return rc;
}

/* Builds one plan node (at desc) and returns its graph node. */
static eddy_node *build_node(eddy_graph *g, lua_State *L, int desc,
                             const char *dir, char *err, size_t errlen) {
    lua_getfield(L, desc, "type");
    const char *type = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays alive in desc */
    if (type && strcmp(type, "source") == 0) {
        eddy_source *s = eddy_source_new(g->job, L, desc, dir, err, errlen);
        if (s == NULL || push_ptr(&g->sources, &g->nsources, s) != 0)
            return NULL;
        return eddy_source_node(s);
    }
    if (type && strcmp(type, "operator") == 0) {
        eddy_op *op = eddy_op_new(g->job, L, desc, err, errlen);
        if (op == NULL || push_ptr(&g->ops, &g->nops, op) != 0) return NULL;
        return eddy_op_node(op);
    }
    if (type && strcmp(type, "sink") == 0) {
        eddy_sink *s = eddy_sink_new(g->job, L, desc, dir, err, errlen);
        if (s == NULL || push_ptr(&g->sinks, &g->nsinks, s) != 0) return NULL;
        return eddy_sink_node(s);
    }
    snprintf(err, errlen, "unknown node type %s", type ? type : "(none)");
    return NULL;
}

/* Prefixes err with the plan node's where ("job.lua:12: "). */
static void locate(lua_State *L, int desc, char *err, size_t errlen) {
    lua_getfield(L, desc, "where");
    const char *where = lua_tostring(L, -1);
    if (where && strncmp(err, where, strlen(where)) != 0) {
        char tmp[2048];
        snprintf(tmp, sizeof tmp, "%s: %s", where, err);
        snprintf(err, errlen, "%s", tmp);
    }
    lua_pop(L, 1);
}

/* ---- one file, one writer ------------------------------------------------ */

/* A file the job reads (a file source) or writes (a file sink, the
 * dead-letter sink), as its declaration names it. */
typedef struct {
    char *path;                      /* absolute, normalised */
    const char *what, *name, *where; /* where: NULL for the default */
    int writes, exists;
    double order; /* declaration order */
    dev_t dev;
    ino_t ino;
} job_file;

/* path against base (itself against the working dir), made absolute with
 * repeated slashes, "." and ".." resolved lexically. Malloc'd, or NULL. */
static char *normalise(const char *base, const char *path) {
    char cwd[4096] = "";
    if (path[0] != '/' && base[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
        return NULL;
    size_t n = strlen(cwd) + strlen(base) + strlen(path) + 4, len = 0;
    char *in = malloc(n), *out = malloc(n), *save = NULL;
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return NULL;
    }
    snprintf(in, n, "%s%s%s%s%s", path[0] == '/' ? "" : cwd,
             path[0] == '/' ? "" : "/", path[0] == '/' ? "" : base,
             path[0] == '/' ? "" : "/", path);
    for (char *c = strtok_r(in, "/", &save); c;
         c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0) continue;
        if (strcmp(c, "..") == 0) {
            while (len > 0 && out[--len] != '/') {
            }
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, c, strlen(c));
        len += strlen(c);
    }
    if (len == 0) out[len++] = '/';
    out[len] = '\0';
    free(in);
    return out;
}

/* Adds the file path (against base) to fs[*n]: 0, or -1 (out of memory). */
static int add_file(job_file *fs, int *n, const char *base, const char *path,
                    const char *what, const char *name, const char *where,
                    int writes, double order) {
    job_file *f = &fs[*n];
    char raw[8192];
    struct stat st;
    if ((f->path = normalise(base, path)) == NULL) return -1;
    f->what = what;
    f->name = name;
    f->where = where;
    f->writes = writes;
    f->order = order;
    /* stat follows the path as the kernel will ("sub/.." through a
     * symlink), which lexical normalising does not */
    snprintf(raw, sizeof raw, "%s%s%s", path[0] == '/' ? "" : base,
             path[0] == '/' ? "" : "/", path);
    if ((f->exists = stat(raw, &st) == 0)) {
        f->dev = st.st_dev;
        f->ino = st.st_ino;
    }
    for (int i = (*n)++; i > 0 && fs[i - 1].order > fs[i].order; i--) {
        job_file t = fs[i]; /* in declaration order */
        fs[i] = fs[i - 1];
        fs[i - 1] = t;
    }
    return 0;
}

/* "sink 'x'", with where: "sink 'x' (job.lua:7)" */
static void describe(const job_file *f, int where, char *out, size_t n) {
    where = where && f->where;
    snprintf(out, n, "%s%s%s%s%s%s%s", f->what, f->name ? " '" : "",
             f->name ? f->name : "", f->name ? "'" : "", where ? " (" : "",
             where ? f->where : "", where ? ")" : "");
}

/* A file sink must have its file to itself: no other file sink, no file
 * source and not the dead-letter sink may name it, or the writers would
 * overwrite each other's bytes (each writes at its own offset) and a sink
 * would write into the job's own input. Two names are one file when they
 * are equal once normalised, or when both exist with the same device and
 * inode (symlinks, hard links). The default dead-letter file is
 * <state dir>/dead-letters.ndjson. 0, or -1 with err at the later of the
 * two declarations. [-0, +0, -] */
static int check_files(eddy_graph *g, lua_State *L, int plan, const char *dir,
                       char *err, size_t errlen) {
    lua_getfield(L, plan, "nodes");
    int nodes = lua_gettop(L), n = 0, rc = 0;
    job_file *fs = calloc((size_t)g->nids + 1, sizeof *fs);
    if (fs == NULL) rc = -1;
    for (int i = 1; i <= g->nids && rc == 0; i++) {
        lua_rawgeti(L, nodes, i);
        lua_getfield(L, -1, "type");
        lua_getfield(L, -2, "kind");
        lua_getfield(L, -3, "path");
        lua_getfield(L, -4, "name");
        lua_getfield(L, -5, "where");
        /* stack: node type kind path name where (the strings stay alive in
         * the plan) */
        const char *type = lua_tostring(L, -5), *kind = lua_tostring(L, -4);
        const char *path = lua_tostring(L, -3);
        int sink = type && strcmp(type, "sink") == 0;
        if (path && kind && strcmp(kind, "file") == 0 &&
            (sink || (type && strcmp(type, "source") == 0)))
            rc = add_file(fs, &n, dir, path, type, lua_tostring(L, -2),
                          lua_tostring(L, -1), sink, i);
        lua_pop(L, 6);
    }
    int t = lua_getfield(L, plan, "dead_letter");
    if (t == LUA_TTABLE && rc == 0) {
        lua_getfield(L, -1, "kind");
        lua_getfield(L, -2, "path");
        lua_getfield(L, -3, "where");
        lua_getfield(L, -4, "after");
        /* stack: dead_letter kind path where after */
        const char *kind = lua_tostring(L, -4), *path = lua_tostring(L, -3);
        double after = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : g->nids;
        if (path && kind && strcmp(kind, "file") == 0)
            rc = add_file(fs, &n, dir, path, "the dead-letter sink", NULL,
                          lua_tostring(L, -2), 1, after + 0.5);
        lua_pop(L, 4);
    } else if (rc == 0 && eddy_job_state_dir(g->job)) {
        rc = add_file(fs, &n, eddy_job_state_dir(g->job), "dead-letters.ndjson",
                      "the dead-letter sink (by default <state "
                      "dir>/dead-letters.ndjson)",
                      NULL, NULL, 1, 0);
    }
    lua_pop(L, 2);
    if (rc != 0) snprintf(err, errlen, "out of memory");
    for (int j = 1; j < n && rc == 0; j++)
        for (int i = 0; i < j && rc == 0; i++) {
            job_file *a = &fs[i], *b = &fs[j]; /* b: declared later */
            int same = strcmp(a->path, b->path) == 0;
            if ((!a->writes && !b->writes) ||
                !(same || (a->exists && b->exists && a->dev == b->dev &&
                           a->ino == b->ino)))
                continue;
            char da[1024], db[1024];
            describe(a, 1, da, sizeof da);
            describe(b, 0, db, sizeof db);
            snprintf(err, errlen,
                     "%s%s%s %s %s, which %s %s%s%s%s%s; a file sink needs a "
                     "file of its own",
                     b->where ? b->where : "", b->where ? ": " : "", db,
                     b->writes ? "writes" : "reads", b->path, da,
                     a->writes ? "writes" : "reads",
                     a->writes && b->writes ? " too" : "", same ? "" : " (as ",
                     same ? "" : a->path, same ? "" : ")");
            rc = -1;
        }
    for (int i = 0; i < n; i++) free(fs[i].path);
    free(fs);
    return rc;
}

eddy_graph *eddy_graph_build(eddy_job *job, lua_State *L, int plan,
                             const char *dir, char *err, size_t errlen) {
    eddy_graph *g = calloc(1, sizeof *g);
    if (g == NULL) return NULL;
    g->job = job;
    lua_getfield(L, plan, "nodes");
    g->nids = (int)lua_rawlen(L, -1);
    g->byid = calloc((size_t)g->nids + 1, sizeof *g->byid);
    int rc = g->byid ? 0 : -1;
    for (int i = 1; i <= g->nids && rc == 0; i++) {
        lua_rawgeti(L, -1, i);
        int desc = lua_gettop(L);
        err[0] = '\0';
        eddy_node *n = build_node(g, L, desc, dir, err, errlen);
        if (n == NULL || wire(g, L, desc, n, err, errlen) != 0) {
            if (err[0] == '\0') snprintf(err, errlen, "out of memory");
            locate(L, desc, err, errlen);
            rc = -1;
        } else {
            g->byid[i - 1] = n;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (rc == 0) rc = check_files(g, L, plan, dir, err, errlen);
    if (rc != 0) {
        eddy_graph_free(g);
        return NULL;
    }
    return g;
}

void eddy_graph_free(eddy_graph *g) {
    if (g == NULL) return;
    for (int i = 0; i < g->nsources; i++) eddy_source_free(g->sources[i]);
    for (int i = 0; i < g->nops; i++) eddy_op_free(g->ops[i]);
    for (int i = 0; i < g->nsinks; i++) eddy_sink_free(g->sinks[i]);
    free(g->sources);
    free(g->ops);
    free(g->sinks);
    free(g->byid);
    free(g);
}

int eddy_graph_start(eddy_graph *g, char *err, size_t errlen) {
    for (int i = 0; i < g->nops; i++)
        if (eddy_op_open(g->ops[i]) != 0) {
            snprintf(err, errlen, "operator %s: open failed: %s",
                     eddy_op_name(g->ops[i]),
                     eddy_vm_error(eddy_job_vm(g->job)));
            return -1;
        }
    if (!eddy_clock_is_sim(eddy_job_clock(g->job))) /* tests reload */
        for (int i = 0; i < g->nops; i++) eddy_op_watch(g->ops[i]);
    for (int i = 0; i < g->nsinks; i++)
        if (eddy_sink_open(g->sinks[i], err, errlen) != 0) return -1;
    for (int i = 0; i < g->nsources; i++)
        if (eddy_source_start(g->sources[i], err, errlen) != 0) return -1;
    return 0;
}

void eddy_graph_stop_sources(eddy_graph *g) {
    for (int i = 0; i < g->nsources; i++) eddy_source_stop(g->sources[i]);
}

unsigned long long eddy_graph_source_events(const eddy_graph *g) {
    unsigned long long n = 0;
    for (int i = 0; i < g->nsources; i++)
        n += eddy_source_count(g->sources[i]) + eddy_source_bad(g->sources[i]);
    return n;
}

int eddy_graph_drained(const eddy_graph *g) {
    for (int i = 0; i < g->nsources; i++)
        if (!eddy_source_is_done(g->sources[i])) return 0;
    return 1;
}

int eddy_graph_flush(eddy_graph *g, char *err, size_t errlen) {
    int rc = 0;
    for (int i = 0; i < g->nsinks; i++)
        if (eddy_sink_flush(g->sinks[i], err, errlen) != 0) rc = -1;
    return rc;
}

int eddy_graph_close(eddy_graph *g, char *err, size_t errlen) {
    for (int i = 0; i < g->nops; i++) eddy_op_close(g->ops[i]);
    int rc = 0;
    for (int i = 0; i < g->nsinks; i++)
        if (eddy_sink_sync(g->sinks[i], err, errlen) != 0) rc = -1;
    return rc;
}

void eddy_graph_log_summary(const eddy_graph *g) {
    for (int i = 0; i < g->nsources; i++)
        eddy_info("source %s: %llu events, %llu bad lines",
                  eddy_source_name(g->sources[i]),
                  eddy_source_count(g->sources[i]),
                  eddy_source_bad(g->sources[i]));
    for (int i = 0; i < g->nops; i++) {
        eddy_op_stats st;
        eddy_op_get_stats(g->ops[i], &st);
        eddy_info("operator %s: %llu in, %llu out, %llu errors (%llu skipped, "
                  "%llu dead letters), %llu late",
                  eddy_op_name(g->ops[i]), st.in, st.out, st.errors, st.skipped,
                  st.dead_letters, st.late);
    }
}

struct eddy_sink *eddy_graph_sink(eddy_graph *g, const char *name_or_path) {
    for (int i = 0; i < g->nsinks; i++) {
        const char *p = eddy_sink_path(g->sinks[i]);
        if (strcmp(eddy_sink_name(g->sinks[i]), name_or_path) == 0 ||
            (p && strcmp(p, name_or_path) == 0))
            return g->sinks[i];
    }
    return NULL;
}

struct eddy_source *eddy_graph_source(eddy_graph *g, const char *name) {
    for (int i = 0; i < g->nsources; i++)
        if (strcmp(eddy_source_name(g->sources[i]), name) == 0)
            return g->sources[i];
    return NULL;
}

struct eddy_op *eddy_graph_op(eddy_graph *g, const char *name) {
    for (int i = 0; i < g->nops; i++)
        if (strcmp(eddy_op_name(g->ops[i]), name) == 0) return g->ops[i];
    return NULL;
}

/* ---- checkpoints ------------------------------------------------------- */

/* rec.sources and rec.sinks. [-0, +0, m] */
static int snapshot_io(eddy_graph *g, lua_State *L, int rec, char *err,
                       size_t errlen) {
    lua_createtable(L, 0, g->nsources);
    for (int i = 0; i < g->nsources; i++) {
        eddy_source_snapshot(g->sources[i], L);
        lua_setfield(L, -2, eddy_source_name(g->sources[i]));
    }
    lua_setfield(L, rec, "sources");
    lua_createtable(L, 0, g->nsinks);
    for (int i = 0; i < g->nsinks; i++) {
        uint64_t len;
        if (!eddy_sink_exactly_once(g->sinks[i])) continue; /* stdout */
        if (eddy_sink_committed(g->sinks[i], &len, err, errlen) != 0) {
            lua_pop(L, 1);
            return -1;
        }
        lua_pushinteger(L, (lua_Integer)len);
        lua_setfield(L, -2, eddy_sink_name(g->sinks[i]));
    }
    lua_setfield(L, rec, "sinks");
    lua_createtable(L, 0, g->nops);
    for (int i = 0; i < g->nops; i++) {
        eddy_op_describe(g->ops[i], L);
        lua_setfield(L, -2, eddy_op_name(g->ops[i]));
    }
    lua_setfield(L, rec, "operators");
    return 0;
}

int eddy_graph_snapshot(eddy_graph *g, lua_State *L, int rec, eddy_batch *b,
                        size_t *nkeys, char *err, size_t errlen) {
    rec = lua_absindex(L, rec);
    *nkeys = 0;
    if (snapshot_io(g, L, rec, err, errlen) != 0) return -1;
    for (int i = 0; i < g->nops; i++) {
        size_t n = 0;
        if (eddy_op_snapshot(g->ops[i], b, &n, err, errlen) != 0) {
            for (int j = 0; j < i; j++) eddy_op_rollback(g->ops[j]);
            return -1;
        }
        *nkeys += n;
    }
    return 0;
}

void eddy_graph_commit(eddy_graph *g) {
    for (int i = 0; i < g->nops; i++) eddy_op_commit(g->ops[i]);
}

void eddy_graph_rollback(eddy_graph *g) {
    for (int i = 0; i < g->nops; i++) eddy_op_rollback(g->ops[i]);
}

int eddy_graph_sink_fds(const eddy_graph *g, int *fds, int max) {
    int n = 0;
    for (int i = 0; i < g->nsinks && n < max; i++)
        if (eddy_sink_fd(g->sinks[i]) >= 0)
            fds[n++] = eddy_sink_fd(g->sinks[i]);
    return n;
}

/* The scripts may be newer than the checkpoint: migrate what it holds.
 * [-0, +0, m] */
static int restore_versions(eddy_graph *g, lua_State *L, int rec, char *err,
                            size_t errlen) {
    if (lua_getfield(L, rec, "operators") != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < g->nops && rc == 0; i++) {
        lua_getfield(L, -1, eddy_op_name(g->ops[i]));
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "version");
            int64_t from = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
            lua_pop(L, 1);
            rc = eddy_op_migrate_from(g->ops[i], from, err, errlen);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return rc;
}

int eddy_graph_restore(eddy_graph *g, lua_State *L, int rec, eddy_store *store,
                       char *err, size_t errlen) {
    rec = lua_absindex(L, rec);
    if (lua_getfield(L, rec, "sources") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    if (lua_getfield(L, rec, "sinks") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    /* stack: sources sinks */
    int rc = 0;
    for (int i = 0; i < g->nsources && rc == 0; i++) {
        lua_getfield(L, -2, eddy_source_name(g->sources[i]));
        rc = eddy_source_restore(g->sources[i], L, -1, err, errlen);
        lua_pop(L, 1);
    }
    for (int i = 0; i < g->nsinks && rc == 0; i++) {
        lua_getfield(L, -1, eddy_sink_name(g->sinks[i]));
        if (lua_isinteger(L, -1))
            eddy_sink_set_restore(g->sinks[i], (uint64_t)lua_tointeger(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    for (int i = 0; i < g->nops && rc == 0; i++)
        rc = eddy_op_restore(g->ops[i], store, err, errlen);
    if (rc == 0) rc = restore_versions(g, L, rec, err, errlen);
    return rc;
}

typedef struct reload_req {
    eddy_graph *g;
    int stale_only;
} reload_req;

static int reload_ops(lua_State *L, void *ud) {
    reload_req *r = ud;
    for (int i = 0; i < r->g->nops; i++)
        if (!r->stale_only || eddy_op_script_stale(r->g->ops[i]))
            eddy_op_reload(r->g->ops[i]);
    return 0;
}

void eddy_graph_reload(eddy_graph *g, eddy_vm *vm, int stale_only) {
    reload_req r = {g, stale_only};
    if (!stale_only) eddy_info("reloading every operator script");
    if (eddy_vm_protect(vm, reload_ops, &r) != 0)
        eddy_error("reload: %s", eddy_vm_error(vm));
}

int64_t eddy_graph_watermark(const eddy_graph *g) {
    int64_t m = INT64_MAX;
    int live = 0;
    for (int i = 0; i < g->nsources; i++) {
        int idle;
        int64_t wm = eddy_source_watermark(g->sources[i], &idle);
        if (idle) continue;
        live = 1;
        if (wm < m) m = wm;
    }
    return live ? m : INT64_MIN;
}

int eddy_graph_nsources(const eddy_graph *g) {
    return g->nsources;
}
int eddy_graph_nops(const eddy_graph *g) {
    return g->nops;
}
int eddy_graph_nsinks(const eddy_graph *g) {
    return g->nsinks;
}
eddy_source *eddy_graph_source_at(const eddy_graph *g, int i) {
    return g->sources[i];
}
eddy_op *eddy_graph_op_at(const eddy_graph *g, int i) {
    return g->ops[i];
}
eddy_sink *eddy_graph_sink_at(const eddy_graph *g, int i) {
    return g->sinks[i];
}

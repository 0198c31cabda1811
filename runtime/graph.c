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

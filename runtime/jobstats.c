/* jobstats.c - snapshots of a job's counters and gauges.
 *
 * Nothing here runs per event: the counters live in the sources, operators,
 * sinks and the checkpointer as plain increments, and a snapshot reads
 * them when asked (a scrape, a status line redraw). A restart throws the
 * graph away, so the observer folds the old graph's counters into a
 * retained snapshot first and adds the live graph's at each scrape: totals
 * keep counting across restarts. A snapshot owns its node array and names.
 */
#include "jobstats.h"

#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "operator.h"
#include "sink.h"
#include "source.h"

const char *const eddy_restart_causes[EDDY_NCAUSES] = {"operator",
                                                       "error_budget", "other"};

void eddy_jobstats_init(eddy_jobstats *s) {
    memset(s, 0, sizeof *s);
}

void eddy_jobstats_free(eddy_jobstats *s) {
    for (int i = 0; i < s->nnodes; i++) free(s->nodes[i].name);
    free(s->nodes);
    eddy_jobstats_init(s);
}

/* The node (kind, name), added (zeroed) when new; NULL when out of
 * memory. */
static eddy_nodestats *node(eddy_jobstats *s, int kind, const char *name) {
    for (int i = 0; i < s->nnodes; i++)
        if (s->nodes[i].kind == kind && strcmp(s->nodes[i].name, name) == 0)
            return &s->nodes[i];
    if (s->nnodes == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        eddy_nodestats *a = realloc(s->nodes, (size_t)cap * sizeof *a);
        if (a == NULL) return NULL;
        s->nodes = a;
        s->cap = cap;
    }
    eddy_nodestats *n = &s->nodes[s->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->name = strdup(name);
    if (n->name == NULL) return NULL;
    s->nnodes++;
    return n;
}

static void add_counters(eddy_nodestats *d, const eddy_nodestats *n) {
    d->in += n->in;
    d->out += n->out;
    d->bad += n->bad;
    d->errors += n->errors;
    d->skipped += n->skipped;
    d->dead_letters += n->dead_letters;
    d->late += n->late;
    d->reloads += n->reloads;
    d->reload_failures += n->reload_failures;
}

static int add_sources(eddy_jobstats *s, eddy_graph *g, int gauges) {
    for (int i = 0; i < eddy_graph_nsources(g); i++) {
        eddy_source *src = eddy_graph_source_at(g, i);
        eddy_nodestats *d = node(s, EDDY_NODE_SOURCE, eddy_source_name(src));
        if (d == NULL) return -1;
        eddy_nodestats n = {0};
        n.bad = eddy_source_bad(src);
        n.out = eddy_source_count(src);
        n.in = n.out + n.bad;
        add_counters(d, &n);
        if (!gauges) continue;
        int idle;
        d->wm = eddy_source_watermark(src, &idle);
        d->has_wm = d->wm != EDDY_WM_MIN && d->wm != EDDY_WM_MAX;
    }
    return 0;
}

static int add_ops(eddy_jobstats *s, eddy_graph *g, int gauges, int keys) {
    for (int i = 0; i < eddy_graph_nops(g); i++) {
        eddy_op *op = eddy_graph_op_at(g, i);
        eddy_nodestats *d = node(s, EDDY_NODE_OPERATOR, eddy_op_name(op));
        if (d == NULL) return -1;
        eddy_op_stats st;
        eddy_op_get_stats(op, &st);
        eddy_nodestats n = {.in = st.in,
                            .out = st.out,
                            .errors = st.errors,
                            .skipped = st.skipped,
                            .dead_letters = st.dead_letters,
                            .late = st.late,
                            .reloads = st.reloads,
                            .reload_failures = st.reload_failures};
        add_counters(d, &n);
        if (gauges) d->timers = st.timers;
        if (gauges && keys) d->keys = eddy_op_keys(op);
    }
    return 0;
}

int eddy_jobstats_add_graph(eddy_jobstats *s, eddy_graph *g, int gauges,
                            int keys) {
    if (add_sources(s, g, gauges) != 0 || add_ops(s, g, gauges, keys) != 0)
        return -1;
    for (int i = 0; i < eddy_graph_nsinks(g); i++) {
        eddy_sink *k = eddy_graph_sink_at(g, i);
        eddy_nodestats *d = node(s, EDDY_NODE_SINK, eddy_sink_name(k));
        if (d == NULL) return -1;
        d->in += eddy_sink_count(k);
        d->out += eddy_sink_count(k);
    }
    return 0;
}

void eddy_jobstats_add_ckpt(eddy_jobstats *s, const eddy_ckpt_stats *c,
                            uint64_t last_id) {
    eddy_ckpt_stats *d = &s->ckpt;
    d->completed += c->completed;
    d->failed += c->failed;
    d->bytes_total += c->bytes_total;
    if (c->completed + c->failed > 0) d->last_failed = c->last_failed;
    if (c->completed > 0) {
        d->last_duration_ms = c->last_duration_ms;
        d->last_bytes = c->last_bytes;
    }
    if (c->last_time_ms > d->last_time_ms) d->last_time_ms = c->last_time_ms;
    if (last_id > s->last_ckpt_id) s->last_ckpt_id = last_id;
}

int eddy_jobstats_merge(eddy_jobstats *dst, const eddy_jobstats *src) {
    for (int i = 0; i < src->nnodes; i++) {
        const eddy_nodestats *n = &src->nodes[i];
        eddy_nodestats *d = node(dst, n->kind, n->name);
        if (d == NULL) return -1;
        add_counters(d, n);
    }
    eddy_jobstats_add_ckpt(dst, &src->ckpt, src->last_ckpt_id);
    for (int i = 0; i < EDDY_NCAUSES; i++) dst->restarts[i] += src->restarts[i];
    return 0;
}

unsigned long long eddy_jobstats_total(const eddy_jobstats *s, int kind,
                                       int out) {
    unsigned long long t = 0;
    for (int i = 0; i < s->nnodes; i++)
        if (s->nodes[i].kind == kind)
            t += out ? s->nodes[i].out : s->nodes[i].in;
    return t;
}

unsigned long eddy_jobstats_restarts(const eddy_jobstats *s) {
    unsigned long t = 0;
    for (int i = 0; i < EDDY_NCAUSES; i++) t += s->restarts[i];
    return t;
}

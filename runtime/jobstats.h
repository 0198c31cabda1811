/* jobstats.h - a snapshot of a job's counters and gauges, for metrics,
 * /health and the status line. */
#ifndef EDDY_JOBSTATS_H
#define EDDY_JOBSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "graph.h"

enum { EDDY_NODE_SOURCE, EDDY_NODE_OPERATOR, EDDY_NODE_SINK };
/* Restart causes: an operator error under on_error = "fail" (timeouts and
 * memory included), the error budget, anything else (a sink, a source). */
enum { EDDY_CAUSE_OPERATOR, EDDY_CAUSE_BUDGET, EDDY_CAUSE_OTHER, EDDY_NCAUSES };
extern const char *const eddy_restart_causes[EDDY_NCAUSES];

typedef struct eddy_nodestats {
    int kind;
    char *name;
    /* counters: sources count records read (in), events sent on (out) and
     * bad records; sinks count records written (in and out) */
    unsigned long long in, out, bad, errors, skipped, dead_letters, late;
    unsigned long long reloads, reload_failures;
    /* gauges, of the running graph only */
    size_t keys, timers;
    int has_wm; /* a watermark is known (events seen, source not ended) */
    int64_t wm;
} eddy_nodestats;

typedef struct eddy_jobstats {
    eddy_nodestats *nodes;
    int nnodes, cap;
    eddy_ckpt_stats ckpt;
    uint64_t last_ckpt_id;
    unsigned long restarts[EDDY_NCAUSES];
    unsigned long long dead_letters;
    size_t lua_bytes;
    int running;                /* 0 while waiting to restart */
    int64_t now_ms, started_ms; /* processing time */
} eddy_jobstats;

void eddy_jobstats_init(eddy_jobstats *s);
void eddy_jobstats_free(eddy_jobstats *s);
/* Adds graph g's counters into s (nodes matched by kind and name); with
 * gauges, also takes its gauges (keys walks every operator's state).
 * 0, or -1 when out of memory. */
int eddy_jobstats_add_graph(eddy_jobstats *s, eddy_graph *g, int gauges,
                            int keys);
/* Adds a checkpointer's stats: counts add up, the later "last" wins. */
void eddy_jobstats_add_ckpt(eddy_jobstats *s, const eddy_ckpt_stats *c,
                            uint64_t last_id);
/* Adds src's counters (nodes, checkpoints, restarts) into dst. 0 or -1. */
int eddy_jobstats_merge(eddy_jobstats *dst, const eddy_jobstats *src);
/* Sums over nodes of kind: events in / out. */
unsigned long long eddy_jobstats_total(const eddy_jobstats *s, int kind,
                                       int out);
unsigned long eddy_jobstats_restarts(const eddy_jobstats *s);

#endif

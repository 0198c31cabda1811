/* expose.c - renders a job's snapshot for the outside world.
 *
 * /metrics: Prometheus text, one family per measure, every name starting
 * with eddy_ (counters end in _total, durations are _seconds, sizes
 * _bytes). /health: one JSON object with the job's status, its last
 * checkpoint and restarts, and per-node counters. Both read only the
 * snapshot they are given (made at scrape time); the caller owns the
 * buffer. Invariant: any name from the job file is escaped, never trusted.
 */
#include "expose.h"

#include <stdio.h>
#include <string.h>

#include "metrics.h"

#define FAM(b, n, t, h) (rc |= eddy_metrics_family(b, n, t, h))

static const char *const kind_label[] = {"source", "operator", "sink"};

/* One sample per node of kind (-1: all) with the value get returns. */
typedef double (*node_value)(const eddy_nodestats *n);

static int per_node(eddy_buf *b, const eddy_jobstats *s, int kind,
                    const char *name, node_value get) {
    int rc = 0;
    for (int i = 0; i < s->nnodes; i++) {
        const eddy_nodestats *n = &s->nodes[i];
        if (kind >= 0 && n->kind != kind) continue;
        const char *l[] = {kind_label[n->kind], n->name, NULL};
        rc |= eddy_metrics_sample(b, name, l, get(n));
    }
    return rc;
}

static double v_in(const eddy_nodestats *n) {
    return (double)n->in;
}
static double v_out(const eddy_nodestats *n) {
    return (double)n->out;
}
static double v_bad(const eddy_nodestats *n) {
    return (double)n->bad;
}
static double v_late(const eddy_nodestats *n) {
    return (double)n->late;
}
static double v_keys(const eddy_nodestats *n) {
    return (double)n->keys;
}
static double v_timers(const eddy_nodestats *n) {
    return (double)n->timers;
}

static int node_families(eddy_buf *b, const eddy_jobstats *s) {
    int rc = 0;
    FAM(b, "eddy_events_in_total", "counter",
        "Events into each source (records read), operator and sink "
        "(records written).");
    rc |= per_node(b, s, -1, "eddy_events_in_total", v_in);
    FAM(b, "eddy_events_out_total", "counter",
        "Events out of each source, operator (all sides) and sink.");
    rc |= per_node(b, s, -1, "eddy_events_out_total", v_out);
    FAM(b, "eddy_source_bad_records_total", "counter",
        "Records a source could not decode (or too long, or without a valid "
        "event time): sent to the dead letters.");
    rc |= per_node(b, s, EDDY_NODE_SOURCE, "eddy_source_bad_records_total",
                   v_bad);
    FAM(b, "eddy_late_events_total", "counter",
        "Events behind the operator's watermark (side output late).");
    rc |= per_node(b, s, EDDY_NODE_OPERATOR, "eddy_late_events_total", v_late);
    FAM(b, "eddy_state_keys", "gauge",
        "Keys with state held in memory by a keyed operator.");
    rc |= per_node(b, s, EDDY_NODE_OPERATOR, "eddy_state_keys", v_keys);
    FAM(b, "eddy_timers_pending", "gauge",
        "Pending timers (processing and event time) of an operator.");
    rc |= per_node(b, s, EDDY_NODE_OPERATOR, "eddy_timers_pending", v_timers);
    return rc;
}

/* Errors by the policy that handled them; reloads by result. */
static int op_families(eddy_buf *b, const eddy_jobstats *s) {
    int rc = 0;
    FAM(b, "eddy_operator_errors_total", "counter",
        "Operator errors by the on_error policy that handled them.");
    for (int i = 0; i < s->nnodes; i++) {
        const eddy_nodestats *n = &s->nodes[i];
        if (n->kind != EDDY_NODE_OPERATOR) continue;
        unsigned long long handled = n->skipped + n->dead_letters;
        unsigned long long v[3] = {n->skipped, n->dead_letters,
                                   n->errors > handled ? n->errors - handled
                                                       : 0};
        const char *pol[3] = {"skip", "dead_letter", "fail"};
        for (int p = 0; p < 3; p++) {
            const char *l[] = {"operator", n->name, "policy", pol[p], NULL};
            rc |= eddy_metrics_count(b, "eddy_operator_errors_total", l, v[p]);
        }
    }
    FAM(b, "eddy_reloads_total", "counter",
        "Hot reloads of an operator script by result (a failed one keeps "
        "the running version).");
    for (int i = 0; i < s->nnodes; i++) {
        const eddy_nodestats *n = &s->nodes[i];
        if (n->kind != EDDY_NODE_OPERATOR) continue;
        const char *ok[] = {"operator", n->name, "result", "ok", NULL};
        const char *ko[] = {"operator", n->name, "result", "failed", NULL};
        rc |= eddy_metrics_count(b, "eddy_reloads_total", ok, n->reloads);
        rc |=
            eddy_metrics_count(b, "eddy_reloads_total", ko, n->reload_failures);
    }
    return rc;
}

static int watermark_families(eddy_buf *b, const eddy_jobstats *s) {
    int rc = 0;
    FAM(b, "eddy_source_watermark_seconds", "gauge",
        "A source's watermark (event time, seconds since the epoch); absent "
        "before its first event time and after it ended.");
    for (int i = 0; i < s->nnodes; i++) {
        const eddy_nodestats *n = &s->nodes[i];
        const char *l[] = {"source", n->name, NULL};
        if (n->kind == EDDY_NODE_SOURCE && n->has_wm)
            rc |= eddy_metrics_sample(b, "eddy_source_watermark_seconds", l,
                                      (double)n->wm / 1000.0);
    }
    FAM(b, "eddy_source_watermark_lag_seconds", "gauge",
        "Processing time minus the source's watermark.");
    for (int i = 0; i < s->nnodes; i++) {
        const eddy_nodestats *n = &s->nodes[i];
        const char *l[] = {"source", n->name, NULL};
        if (n->kind == EDDY_NODE_SOURCE && n->has_wm)
            rc |= eddy_metrics_sample(b, "eddy_source_watermark_lag_seconds", l,
                                      (double)(s->now_ms - n->wm) / 1000.0);
    }
    return rc;
}

static int ckpt_families(eddy_buf *b, const eddy_jobstats *s) {
    const eddy_ckpt_stats *c = &s->ckpt;
    int rc = 0;
    FAM(b, "eddy_checkpoints_total", "counter", "Checkpoints completed.");
    rc |= eddy_metrics_count(b, "eddy_checkpoints_total", NULL, c->completed);
    FAM(b, "eddy_checkpoints_failed_total", "counter",
        "Checkpoints that failed (the previous one stays in effect).");
    rc |=
        eddy_metrics_count(b, "eddy_checkpoints_failed_total", NULL, c->failed);
    FAM(b, "eddy_checkpoint_written_bytes_total", "counter",
        "Bytes of state written by completed checkpoints.");
    rc |= eddy_metrics_count(b, "eddy_checkpoint_written_bytes_total", NULL,
                             c->bytes_total);
    FAM(b, "eddy_checkpoint_last_id", "gauge",
        "Id of the last completed checkpoint (0: none).");
    rc |=
        eddy_metrics_count(b, "eddy_checkpoint_last_id", NULL, s->last_ckpt_id);
    FAM(b, "eddy_checkpoint_last_failed", "gauge",
        "1 when the latest checkpoint attempt failed.");
    rc |= eddy_metrics_sample(b, "eddy_checkpoint_last_failed", NULL,
                              c->last_failed);
    FAM(b, "eddy_checkpoint_last_duration_seconds", "gauge",
        "Time the last checkpoint took from its start until durable.");
    rc |= eddy_metrics_sample(b, "eddy_checkpoint_last_duration_seconds", NULL,
                              (double)c->last_duration_ms / 1000.0);
    FAM(b, "eddy_checkpoint_last_bytes", "gauge",
        "Bytes of state the last checkpoint wrote.");
    rc |= eddy_metrics_count(b, "eddy_checkpoint_last_bytes", NULL,
                             c->last_bytes);
    if (c->last_time_ms <= 0) return rc;
    FAM(b, "eddy_checkpoint_last_timestamp_seconds", "gauge",
        "When the last completed checkpoint was taken.");
    rc |= eddy_metrics_sample(b, "eddy_checkpoint_last_timestamp_seconds", NULL,
                              (double)c->last_time_ms / 1000.0);
    FAM(b, "eddy_checkpoint_last_age_seconds", "gauge",
        "Time since the last completed checkpoint was taken.");
    rc |= eddy_metrics_sample(b, "eddy_checkpoint_last_age_seconds", NULL,
                              (double)(s->now_ms - c->last_time_ms) / 1000.0);
    return rc;
}

static int job_families(eddy_buf *b, const eddy_jobstats *s, const char *job,
                        unsigned long long rejected) {
    int rc = 0;
    const char *info[] = {"job", job, "version", EDDY_VERSION, NULL};
    FAM(b, "eddy_job_info", "gauge", "The job's name and eddy's version.");
    rc |= eddy_metrics_sample(b, "eddy_job_info", info, 1);
    FAM(b, "eddy_job_running", "gauge",
        "1 while the job runs, 0 while it waits to restart.");
    rc |= eddy_metrics_sample(b, "eddy_job_running", NULL, s->running);
    FAM(b, "eddy_start_time_seconds", "gauge",
        "When this eddy process started the job.");
    rc |= eddy_metrics_sample(b, "eddy_start_time_seconds", NULL,
                              (double)s->started_ms / 1000.0);
    FAM(b, "eddy_restarts_total", "counter",
        "In-process restarts of the job by cause.");
    for (int i = 0; i < EDDY_NCAUSES; i++) {
        const char *l[] = {"cause", eddy_restart_causes[i], NULL};
        rc |= eddy_metrics_count(b, "eddy_restarts_total", l, s->restarts[i]);
    }
    FAM(b, "eddy_dead_letters_total", "counter",
        "Records written to the dead-letter sink.");
    rc |=
        eddy_metrics_count(b, "eddy_dead_letters_total", NULL, s->dead_letters);
    FAM(b, "eddy_lua_memory_bytes", "gauge", "The job's Lua heap.");
    rc |= eddy_metrics_count(b, "eddy_lua_memory_bytes", NULL, s->lua_bytes);
    FAM(b, "eddy_http_rejected_total", "counter",
        "Requests to this endpoint refused (malformed, too large, too slow, "
        "too many clients).");
    rc |= eddy_metrics_count(b, "eddy_http_rejected_total", NULL, rejected);
    return rc;
}

int eddy_expose_metrics(const eddy_jobstats *s, const char *job,
                        unsigned long long rejected, eddy_buf *b) {
    int rc = job_families(b, s, job, rejected);
    rc |= node_families(b, s);
    rc |= op_families(b, s);
    rc |= watermark_families(b, s);
    rc |= ckpt_families(b, s);
    return rc ? -1 : 0;
}

/* ---- /health ---------------------------------------------------------- */

int eddy_expose_json_string(eddy_buf *b, const char *s) {
    int rc = eddy_buf_addc(b, '"');
    for (; *s && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = eddy_buf_addf(b, "\\%c", c);
        else if (c == '\n')
            rc = eddy_buf_adds(b, "\\n");
        else if (c < 0x20 || c == 0x7f)
            rc = eddy_buf_addf(b, "\\u%04x", c);
        else
            rc = eddy_buf_addc(b, (char)c);
    }
    return rc == 0 ? eddy_buf_addc(b, '"') : -1;
}

static double secs(int64_t ms) {
    return (double)ms / 1000.0;
}

static int health_ckpt(eddy_buf *b, const eddy_jobstats *s) {
    const eddy_ckpt_stats *c = &s->ckpt;
    int rc = eddy_buf_addf(b, "\"checkpoint\":{\"last_id\":%llu,",
                           (unsigned long long)s->last_ckpt_id);
    if (c->last_time_ms > 0)
        rc |= eddy_buf_addf(b, "\"last_age_seconds\":%.3f,",
                            secs(s->now_ms - c->last_time_ms));
    else
        rc |= eddy_buf_adds(b, "\"last_age_seconds\":null,");
    rc |= eddy_buf_addf(b,
                        "\"last_duration_seconds\":%.3f,\"last_bytes\":"
                        "%llu,\"completed\":%lu,\"failed\":%lu,"
                        "\"last_failed\":%s},",
                        secs(c->last_duration_ms), c->last_bytes, c->completed,
                        c->failed, c->last_failed ? "true" : "false");
    return rc;
}

static int health_node(eddy_buf *b, const eddy_nodestats *n,
                       const eddy_jobstats *s) {
    int rc = eddy_expose_json_string(b, n->name);
    rc |= eddy_buf_addf(b, ":{\"in\":%llu,\"out\":%llu", n->in, n->out);
    if (n->kind == EDDY_NODE_SOURCE) {
        rc |= eddy_buf_addf(b, ",\"bad\":%llu", n->bad);
        if (n->has_wm)
            rc |= eddy_buf_addf(b, ",\"watermark_lag_seconds\":%.3f",
                                secs(s->now_ms - n->wm));
    } else if (n->kind == EDDY_NODE_OPERATOR) {
        rc |= eddy_buf_addf(b,
                            ",\"errors\":%llu,\"skipped\":%llu,"
                            "\"dead_letters\":%llu,\"late\":%llu,\"keys\":"
                            "%zu,\"timers\":%zu,\"reloads\":%llu,"
                            "\"reload_failures\":%llu",
                            n->errors, n->skipped, n->dead_letters, n->late,
                            n->keys, n->timers, n->reloads, n->reload_failures);
    }
    return rc | eddy_buf_addc(b, '}');
}

static int health_nodes(eddy_buf *b, const eddy_jobstats *s) {
    static const char *const group[] = {"sources", "operators", "sinks"};
    int rc = 0;
    for (int k = 0; k < 3; k++) {
        rc |= eddy_buf_addf(b, ",\"%s\":{", group[k]);
        int first = 1;
        for (int i = 0; i < s->nnodes; i++) {
            if (s->nodes[i].kind != k) continue;
            if (!first) rc |= eddy_buf_addc(b, ',');
            first = 0;
            rc |= health_node(b, &s->nodes[i], s);
        }
        rc |= eddy_buf_addc(b, '}');
    }
    return rc;
}

int eddy_expose_health(const eddy_jobstats *s, const char *job,
                       const char *last_failure, eddy_buf *b) {
    const char *status = !s->running           ? "restarting"
                         : s->ckpt.last_failed ? "degraded"
                                               : "ok";
    int rc = eddy_buf_addf(b, "{\"status\":\"%s\",\"job\":", status);
    rc |= eddy_expose_json_string(b, job);
    rc |= eddy_buf_addf(b, ",\"running\":%s,\"uptime_seconds\":%.3f,",
                        s->running ? "true" : "false",
                        secs(s->now_ms - s->started_ms));
    rc |= health_ckpt(b, s);
    rc |= eddy_buf_addf(b, "\"restarts\":%lu,\"restarts_by_cause\":{",
                        eddy_jobstats_restarts(s));
    for (int i = 0; i < EDDY_NCAUSES; i++)
        rc |= eddy_buf_addf(b, "%s\"%s\":%lu", i ? "," : "",
                            eddy_restart_causes[i], s->restarts[i]);
    rc |= eddy_buf_adds(b, "},\"last_failure\":");
    if (last_failure && *last_failure)
        rc |= eddy_expose_json_string(b, last_failure);
    else
        rc |= eddy_buf_adds(b, "null");
    rc |= eddy_buf_addf(b, ",\"dead_letters\":%llu,\"lua_memory_bytes\":%zu",
                        s->dead_letters, s->lua_bytes);
    rc |= health_nodes(b, s);
    rc |= eddy_buf_adds(b, "}\n");
    if (rc) return -1;
    return s->running ? 200 : 503;
}

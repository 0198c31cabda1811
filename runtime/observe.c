/* observe.c - the job seen from outside: /metrics, /health, status line.
 *
 * Made once per `eddy run` and kept across in-process restarts, so the
 * listening socket stays and totals keep counting: before a restart throws
 * the graph and the checkpointer away, their counters are folded into the
 * retained snapshot; a scrape adds the live graph's counters and gauges to
 * a copy of it. Everything is computed at scrape (or redraw) time on the
 * loop thread; the event path only increments the counters it always had.
 * The observer owns the HTTP server, the status line and the retained
 * snapshot; the job owns the graph it reads. */
#include "observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "expose.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "sink.h"
#include "status.h"

/* Counting keys walks them (about 25 ms per 100,000 on a small VM), a
 * pause for the loop: it is done at most every KEYS_EVERY_MS, and no more
 * often than every 100 times its own cost (at most 1% of the loop). */
#define KEYS_EVERY_MS 1000

struct eddy_obs {
    eddy_job *job;
    eddy_http *http;
    eddy_status *status;
    eddy_jobstats retained;     /* counters of graphs restarts threw away */
    eddy_jobstats keys;         /* the last key count per operator */
    int64_t keys_at, keys_cost; /* when it was taken (0: never), its cost */
    int64_t started_ms;
    char last_failure[1024];
};

/* Keeps s's key counts, or puts the kept ones into s. */
static void remember_keys(eddy_obs *o, const eddy_jobstats *s) {
    eddy_jobstats_free(&o->keys);
    eddy_jobstats_merge(&o->keys, s); /* the nodes and names */
    for (int i = 0; i < o->keys.nnodes && i < s->nnodes; i++)
        o->keys.nodes[i].keys = s->nodes[i].keys;
}

static void recall_keys(eddy_obs *o, eddy_jobstats *s) {
    for (int i = 0; i < s->nnodes; i++)
        for (int j = 0; j < o->keys.nnodes; j++)
            if (s->nodes[i].kind == o->keys.nodes[j].kind &&
                strcmp(s->nodes[i].name, o->keys.nodes[j].name) == 0)
                s->nodes[i].keys = o->keys.nodes[j].keys;
}

/* Adds the running graph to s, counting keys when it is time to. */
static int add_live(eddy_obs *o, eddy_graph *g, eddy_jobstats *s, int keys) {
    int64_t t0 = eddy_clock_mono_ms();
    int64_t every =
        o->keys_cost * 100 > KEYS_EVERY_MS ? o->keys_cost * 100 : KEYS_EVERY_MS;
    int walk = keys && (o->keys_at == 0 || t0 - o->keys_at >= every);
    if (eddy_jobstats_add_graph(s, g, 1, walk) != 0) return -1;
    if (walk) {
        o->keys_at = eddy_clock_mono_ms();
        o->keys_cost = o->keys_at - t0;
        remember_keys(o, s);
    } else if (keys) {
        recall_keys(o, s);
    }
    return 0;
}

int eddy_obs_sample(eddy_obs *o, eddy_jobstats *s, int keys) {
    eddy_jobstats_init(s);
    if (eddy_jobstats_merge(s, &o->retained) != 0) return -1;
    eddy_graph *g = eddy_job_graph(o->job);
    if (g && add_live(o, g, s, keys) != 0) return -1;
    eddy_ckpt *c = eddy_job_ckpt(o->job);
    if (c) {
        eddy_ckpt_stats st;
        eddy_ckpt_get_stats(c, &st);
        eddy_jobstats_add_ckpt(s, &st, eddy_ckpt_last(c));
    }
    eddy_vm *vm = eddy_job_vm(o->job);
    s->lua_bytes = vm ? eddy_vm_memory(vm) : 0;
    s->dead_letters = eddy_job_dead_letters(o->job);
    s->running = g != NULL;
    s->now_ms = eddy_clock_now(eddy_job_clock(o->job));
    s->started_ms = o->started_ms;
    return 0;
}

static int status_sample(void *ud, eddy_jobstats *s) {
    return eddy_obs_sample(ud, s, 0);
}

/* Renders one endpoint into body; returns the HTTP status. */
static int render(eddy_obs *o, const char *path, eddy_buf *body,
                  const char **ctype) {
    eddy_jobstats s;
    int health = strcmp(path, "/health") == 0, rc;
    if (eddy_obs_sample(o, &s, 1) != 0) {
        eddy_jobstats_free(&s);
        return 500;
    }
    if (health) {
        *ctype = "application/json";
        rc = eddy_expose_health(&s, eddy_job_name(o->job), o->last_failure,
                                body);
    } else {
        *ctype = EDDY_METRICS_CTYPE;
        rc = eddy_expose_metrics(&s, eddy_job_name(o->job),
                                 eddy_http_rejected(o->http), body);
        rc = rc == 0 ? 200 : -1;
    }
    eddy_jobstats_free(&s);
    return rc < 0 ? 500 : rc;
}

static int handle(void *ud, const eddy_http_req *req, eddy_buf *body,
                  const char **ctype) {
    eddy_obs *o = ud;
    if (strcmp(req->path, "/metrics") == 0 ||
        strcmp(req->path, "/health") == 0) {
        int64_t t0 = eddy_clock_mono_ms();
        int status = render(o, req->path, body, ctype);
        eddy_debug("metrics: %s answered %d, %zu bytes in %lld ms", req->path,
                   status, body->len, (long long)(eddy_clock_mono_ms() - t0));
        return status;
    }
    if (strcmp(req->path, "/") == 0) {
        eddy_buf_adds(body, "eddy: see /metrics (Prometheus) and /health "
                            "(JSON)\n");
        return 200;
    }
    eddy_buf_addf(body, "404 Not Found: %s has /metrics and /health\n",
                  eddy_job_name(o->job));
    return 404;
}

/* A status line fits when stderr is a terminal that no stdout sink writes
 * to as well (its lines would run into the status line). */
static int wants_status(eddy_job *job) {
    if (!isatty(STDERR_FILENO)) return 0;
    eddy_graph *g = eddy_job_graph(job);
    if (g == NULL || !isatty(STDOUT_FILENO)) return 1;
    for (int i = 0; i < eddy_graph_nsinks(g); i++)
        if (eddy_sink_path(eddy_graph_sink_at(g, i)) == NULL) return 0;
    return 1;
}

eddy_obs *eddy_obs_new(eddy_job *job, const char *metrics_addr, char *err,
                       size_t errlen) {
    eddy_obs *o = calloc(1, sizeof *o);
    if (o == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    o->job = job;
    eddy_jobstats_init(&o->retained);
    eddy_jobstats_init(&o->keys);
    o->started_ms = eddy_clock_now(eddy_job_clock(job));
    struct ev_loop *loop = eddy_job_loop(job);
    if (metrics_addr) {
        o->http = eddy_http_start(loop, metrics_addr, handle, o, err, errlen);
        if (o->http == NULL) {
            eddy_obs_free(o);
            return NULL;
        }
        eddy_info("metrics: /metrics and /health on %s (port %d)", metrics_addr,
                  eddy_http_port(o->http));
    }
    if (wants_status(job))
        o->status = eddy_status_new(loop, eddy_job_name(job), status_sample, o);
    return o;
}

void eddy_obs_free(eddy_obs *o) {
    if (o == NULL) return;
    eddy_status_free(o->status);
    eddy_http_free(o->http);
    eddy_jobstats_free(&o->retained);
    eddy_jobstats_free(&o->keys);
    free(o);
}

void eddy_obs_restart(eddy_obs *o, const char *cause, const char *why) {
    if (o == NULL) return;
    int c = EDDY_CAUSE_OTHER;
    for (int i = 0; i < EDDY_NCAUSES; i++)
        if (strcmp(cause, eddy_restart_causes[i]) == 0) c = i;
    o->retained.restarts[c]++;
    snprintf(o->last_failure, sizeof o->last_failure, "%s", why);
}

void eddy_obs_fold(eddy_obs *o) {
    if (o == NULL) return;
    eddy_graph *g = eddy_job_graph(o->job);
    eddy_ckpt *c = eddy_job_ckpt(o->job);
    if (g && eddy_jobstats_add_graph(&o->retained, g, 0, 0) != 0)
        eddy_warn("metrics: out of memory, counters may restart from 0");
    if (c) {
        eddy_ckpt_stats st;
        eddy_ckpt_get_stats(c, &st);
        eddy_jobstats_add_ckpt(&o->retained, &st, eddy_ckpt_last(c));
    }
    o->keys_at = 0; /* the next graph starts with its own keys */
}

void eddy_obs_finish(eddy_obs *o) {
    if (o == NULL) return;
    eddy_status_free(o->status);
    o->status = NULL;
}

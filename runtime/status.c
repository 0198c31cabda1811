/* status.c - a live status line on stderr when it is a terminal.
 *
 * A libev timer (unreferenced: it keeps no job alive) takes a snapshot a
 * few times a second, computes events/s over the last second from the
 * sources' totals, and hands the line to the logger, which owns stderr:
 * it erases the line before a log line and draws it again after, so the
 * two never interleave. The line is cut to the terminal's width (a wrapped
 * line could not be erased). The status owns its timer. */
#include "status.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define RING (EDDY_STATUS_HZ + 1) /* one second of samples */

struct eddy_status {
    struct ev_loop *loop;
    ev_timer tick;
    char *job;
    eddy_status_sample_fn sample;
    void *ud;
    int64_t t[RING];
    unsigned long long events[RING];
    int n, head;
};

/* 1234 -> "1234", 12345 -> "12.3k", 1234567 -> "1.23M". */
static void human(double v, char *out, size_t n) {
    if (v < 10000)
        snprintf(out, n, "%.0f", v);
    else if (v < 1e6)
        snprintf(out, n, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(out, n, "%.2fM", v / 1e6);
    else
        snprintf(out, n, "%.2fG", v / 1e9);
}

/* The largest watermark lag over sources, in ms; -1 when none has one. */
static int64_t max_lag(const eddy_jobstats *s) {
    int64_t lag = -1;
    for (int i = 0; i < s->nnodes; i++) {
        const eddy_nodestats *d = &s->nodes[i];
        if (d->kind == EDDY_NODE_SOURCE && d->has_wm && s->now_ms - d->wm > lag)
            lag = s->now_ms - d->wm;
    }
    return lag;
}

void eddy_status_format(const eddy_jobstats *s, const char *job, double rate,
                        char *out, size_t n) {
    char r[32] = "-", ev[32];
    size_t o = 0;
    if (rate >= 0) human(rate, r, sizeof r);
    human((double)eddy_jobstats_total(s, EDDY_NODE_SOURCE, 1), ev, sizeof ev);
#define PUT(...)                                                               \
    do {                                                                       \
        if (o < n) o += (size_t)snprintf(out + o, n - o, __VA_ARGS__);         \
    } while (0)
    PUT("eddy %s | %s ev/s | %s events", job, r, ev);
    int64_t lag = max_lag(s);
    if (lag >= 0) PUT(" | lag %.1fs", (double)lag / 1000.0);
    if (s->ckpt.last_time_ms > 0)
        PUT(" | ckpt %llu, %.1fs ago", (unsigned long long)s->last_ckpt_id,
            (double)(s->now_ms - s->ckpt.last_time_ms) / 1000.0);
    else
        PUT(" | no ckpt yet");
    if (s->ckpt.last_failed) PUT(" (last FAILED)");
    unsigned long rs = eddy_jobstats_restarts(s);
    if (rs) PUT(" | %lu restart%s", rs, rs == 1 ? "" : "s");
    if (!s->running) PUT(" | RESTARTING");
#undef PUT
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents) {
    eddy_status *st = w->data;
    eddy_jobstats s;
    eddy_jobstats_init(&s);
    if (st->sample(st->ud, &s) != 0) {
        eddy_jobstats_free(&s);
        return;
    }
    int64_t now = eddy_clock_mono_ms();
    unsigned long long total = eddy_jobstats_total(&s, EDDY_NODE_SOURCE, 1);
    st->head = (st->head + 1) % RING;
    st->t[st->head] = now;
    st->events[st->head] = total;
    if (st->n < RING) st->n++;
    int oldest = (st->head - st->n + 1 + RING) % RING;
    double rate = -1;
    if (st->n > 1 && now > st->t[oldest])
        rate = (double)(total - st->events[oldest]) * 1000.0 /
               (double)(now - st->t[oldest]);
    char line[512];
    eddy_status_format(&s, st->job, rate, line, sizeof line);
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
        ws.ws_col <= sizeof line)
        line[ws.ws_col - 1] = '\0';
    eddy_log_status(line);
    eddy_jobstats_free(&s);
}

eddy_status *eddy_status_new(struct ev_loop *loop, const char *job,
                             eddy_status_sample_fn sample, void *ud) {
    eddy_status *st = calloc(1, sizeof *st);
    if (st == NULL || (st->job = strdup(job)) == NULL) {
        free(st);
        return NULL;
    }
    st->loop = loop;
    st->sample = sample;
    st->ud = ud;
    ev_timer_init(&st->tick, on_tick, 0.0, 1.0 / EDDY_STATUS_HZ);
    st->tick.data = st;
    ev_timer_again(loop, &st->tick);
    ev_unref(loop);
    return st;
}

void eddy_status_free(eddy_status *st) {
    if (st == NULL) return;
    ev_ref(st->loop);
    ev_timer_stop(st->loop, &st->tick);
    eddy_log_status(NULL);
    free(st->job);
    free(st);
}

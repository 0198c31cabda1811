/* clock.c - processing time, real or simulated, and alarms on it.
 *
 * Production reads libev's cached loop time, so every event handled in one
 * loop iteration sees the same "now" and no syscall is paid per event. The
 * testing kit uses a simulated clock that only moves when told; its alarms
 * fire from eddy_clock_advance, in time order, so a test is deterministic.
 * Durations (checkpoint times, limits) use the monotonic clock, never the
 * wall. A simulated clock keeps a list of its alarms (not owned: each
 * owner frees its alarm, which unlinks it). */
#include "clock.h"

#include <ev.h>
#include <stdlib.h>
#include <time.h>

struct eddy_clock {
    struct ev_loop *loop; /* NULL for a simulated clock */
    int64_t sim_ms;
    eddy_alarm *alarms; /* simulated: every alarm made on this clock */
};

struct eddy_alarm {
    eddy_clock *clock;
    eddy_alarm_fn fn;
    void *data;
    int64_t at; /* INT64_MAX: not set */
    int weak;
    ev_timer w;       /* real clocks */
    eddy_alarm *next; /* simulated clocks, in creation order */
};

eddy_clock *eddy_clock_new_real(struct ev_loop *loop) {
    eddy_clock *c = calloc(1, sizeof *c);
    if (c) c->loop = loop;
    return c;
}

eddy_clock *eddy_clock_new_sim(int64_t start_ms) {
    eddy_clock *c = calloc(1, sizeof *c);
    if (c) c->sim_ms = start_ms;
    return c;
}

void eddy_clock_free(eddy_clock *c) {
    free(c);
}

int eddy_clock_is_sim(const eddy_clock *c) {
    return c->loop == NULL;
}

int64_t eddy_clock_now(const eddy_clock *c) {
    if (c->loop == NULL) return c->sim_ms;
    return (int64_t)(ev_now(c->loop) * 1000.0);
}

void eddy_clock_set(eddy_clock *c, int64_t ms) {
    if (c->loop == NULL && ms > c->sim_ms) c->sim_ms = ms;
}

/* The earliest alarm due at or before ms (first made wins a tie). An alarm
 * that is not set (at INT64_MAX) is never due, even when ms is INT64_MAX. */
static eddy_alarm *earliest_due(eddy_clock *c, int64_t ms) {
    eddy_alarm *best = NULL;
    for (eddy_alarm *a = c->alarms; a; a = a->next)
        if (a->at != INT64_MAX && a->at <= ms &&
            (best == NULL || a->at < best->at))
            best = a;
    return best;
}

void eddy_clock_advance(eddy_clock *c, int64_t ms) {
    if (c->loop != NULL) return;
    eddy_alarm *a;
    while ((a = earliest_due(c, ms)) != NULL) {
        if (a->at > c->sim_ms) c->sim_ms = a->at;
        a->at = INT64_MAX;
        a->fn(a->data);
    }
    if (ms > c->sim_ms) c->sim_ms = ms;
}

int64_t eddy_clock_next(const eddy_clock *c) {
    int64_t next = INT64_MAX;
    for (const eddy_alarm *a = c->alarms; a; a = a->next)
        if (!a->weak && a->at < next) next = a->at;
    return next;
}

int64_t eddy_clock_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- alarms ------------------------------------------------------------ */

static void alarm_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    eddy_alarm *a = w->data;
    /* libev stopped the one-shot timer, dropping the reference a weak
     * alarm had already given back: take it again to stay balanced */
    if (a->weak) ev_ref(loop);
    a->at = INT64_MAX;
    a->fn(a->data);
}

eddy_alarm *eddy_alarm_new(eddy_clock *c, eddy_alarm_fn fn, void *data,
                           int weak) {
    eddy_alarm *a = calloc(1, sizeof *a);
    if (a == NULL) return NULL;
    a->clock = c;
    a->fn = fn;
    a->data = data;
    a->at = INT64_MAX;
    a->weak = weak;
    ev_timer_init(&a->w, alarm_cb, 0.0, 0.0);
    a->w.data = a;
    if (c->loop == NULL) { /* append: ties fire in creation order */
        eddy_alarm **p = &c->alarms;
        while (*p) p = &(*p)->next;
        *p = a;
    }
    return a;
}

void eddy_alarm_cancel(eddy_alarm *a) {
    a->at = INT64_MAX;
    struct ev_loop *loop = a->clock->loop;
    if (loop == NULL || !ev_is_active(&a->w)) return;
    if (a->weak) ev_ref(loop);
    ev_timer_stop(loop, &a->w);
}

void eddy_alarm_set(eddy_alarm *a, int64_t at_ms) {
    eddy_alarm_cancel(a);
    a->at = at_ms;
    struct ev_loop *loop = a->clock->loop;
    if (loop == NULL) return;
    int64_t now = eddy_clock_now(a->clock);
    ev_timer_set(&a->w, at_ms > now ? (double)(at_ms - now) / 1000.0 : 0.0,
                 0.0);
    ev_timer_start(loop, &a->w);
    if (a->weak) ev_unref(loop);
}

int64_t eddy_alarm_at(const eddy_alarm *a) {
    return a->at;
}

void eddy_alarm_free(eddy_alarm *a) {
    if (a == NULL) return;
    eddy_alarm_cancel(a);
    eddy_alarm **p = &a->clock->alarms;
    while (*p && *p != a) p = &(*p)->next;
    if (*p) *p = a->next;
    free(a);
}

/* clock.c - processing time, real or simulated.
 *
 * Production reads libev's cached loop time, so every event handled in one
 * loop iteration sees the same "now" and no syscall is paid per event. The
 * testing kit uses a simulated clock that only moves when told. Durations
 * (checkpoint times, limits) use the monotonic clock, never the wall. */
#include "clock.h"

#include <ev.h>
#include <stdlib.h>
#include <time.h>

struct eddy_clock {
    struct ev_loop *loop; /* NULL for a simulated clock */
    int64_t sim_ms;
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

void eddy_clock_free(eddy_clock *c) { free(c); }

int eddy_clock_is_sim(const eddy_clock *c) { return c->loop == NULL; }

int64_t eddy_clock_now(const eddy_clock *c) {
    if (c->loop == NULL) return c->sim_ms;
    return (int64_t)(ev_now(c->loop) * 1000.0);
}

void eddy_clock_set(eddy_clock *c, int64_t ms) {
    if (c->loop == NULL && ms > c->sim_ms) c->sim_ms = ms;
}

int64_t eddy_clock_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

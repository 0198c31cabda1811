/* restart.c - restart strategies, as in Flink.
 *
 *   none               never restart
 *   fixed-delay        attempts (3) restarts, delay_ms (1000) apart
 *   exponential-delay  initial_ms (1000), times multiplier (2.0) after each
 *                      failure up to max_ms (300000), back to initial_ms
 *                      after running reset_after_ms (3600000) without one;
 *                      each delay is spread by +-jitter (0.1). The default.
 *   failure-rate       restart after delay_ms (1000) unless more than
 *                      max_failures (1) failures fell in interval_ms (60000)
 * A strategy only decides; the job does the restart. */
#include "restart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define MAX_FAILURES 1000000 /* failure-rate keeps one time per failure */

enum { R_NONE, R_FIXED, R_EXP, R_RATE };
static const char *const names[] = {"none", "fixed-delay", "exponential-delay",
                                    "failure-rate", NULL};

struct eddy_restart {
    int kind;
    int64_t attempts, delay_ms, initial_ms, max_ms, reset_after_ms;
    int64_t max_failures, interval_ms;
    double multiplier, jitter;
    int64_t failures, current_ms;
    int64_t *times; /* failure-rate: recent failure times */
    uint64_t rng;
};

/* Reads integer field k (default def) of the table at idx. */
static int64_t iget(lua_State *L, int idx, const char *k, int64_t def) {
    lua_getfield(L, idx, k);
    int64_t v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : def;
    lua_pop(L, 1);
    return v;
}

static double nget(lua_State *L, int idx, const char *k, double def) {
    lua_getfield(L, idx, k);
    double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : def;
    lua_pop(L, 1);
    return v;
}

eddy_restart *eddy_restart_new(lua_State *L, int idx, char *err,
                               size_t errlen) {
    eddy_restart *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->kind = R_EXP;
    int have = lua_istable(L, idx);
    if (have) {
        lua_getfield(L, idx, "strategy");
        const char *s = lua_tostring(L, -1);
        r->kind = -1;
        for (int i = 0; s && names[i]; i++)
            if (strcmp(s, names[i]) == 0) r->kind = i;
        lua_pop(L, 1);
    }
    if (r->kind < 0) {
        snprintf(err, errlen,
                 "restart: strategy must be none, fixed-delay, "
                 "exponential-delay or failure-rate");
        free(r);
        return NULL;
    }
    int t = have ? idx : 0;
    r->attempts = t ? iget(L, t, "attempts", 3) : 3;
    r->delay_ms = t ? iget(L, t, "delay_ms", 1000) : 1000;
    r->initial_ms = t ? iget(L, t, "initial_ms", 1000) : 1000;
    r->max_ms = t ? iget(L, t, "max_ms", 300000) : 300000;
    r->reset_after_ms = t ? iget(L, t, "reset_after_ms", 3600000) : 3600000;
    r->multiplier = t ? nget(L, t, "multiplier", 2.0) : 2.0;
    r->jitter = t ? nget(L, t, "jitter", 0.1) : 0.1;
    r->max_failures = t ? iget(L, t, "max_failures", 1) : 1;
    r->interval_ms = t ? iget(L, t, "interval_ms", 60000) : 60000;
    /* written so that NaN fails every test */
    if (r->attempts < 0 || r->delay_ms < 0 || r->initial_ms < 0 ||
        r->max_ms < r->initial_ms || !(r->multiplier >= 1.0) ||
        !(r->jitter >= 0 && r->jitter <= 1) || r->max_failures < 0 ||
        r->max_failures > MAX_FAILURES || r->interval_ms <= 0) {
        snprintf(err, errlen,
                 "restart: a parameter is out of range (delays "
                 ">= 0, max_ms >= initial_ms, multiplier >= 1, 0 <= jitter "
                 "<= 1, 0 <= max_failures <= %d, interval_ms > 0)",
                 MAX_FAILURES);
        free(r);
        return NULL;
    }
    r->current_ms = r->initial_ms;
    r->rng = (uint64_t)eddy_clock_mono_ms() * 0x9E3779B97F4A7C15ULL | 1;
    r->times = calloc((size_t)r->max_failures + 1, sizeof *r->times);
    if (r->times == NULL) {
        snprintf(err, errlen, "restart: out of memory");
        free(r);
        return NULL;
    }
    return r;
}

void eddy_restart_free(eddy_restart *r) {
    if (r == NULL) return;
    free(r->times);
    free(r);
}

const char *eddy_restart_name(const eddy_restart *r) {
    return names[r->kind];
}

/* A uniform number in [-1, 1). */
static double spread(eddy_restart *r) {
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return (double)(r->rng >> 11) / (double)(1ULL << 52) - 1.0;
}

static int64_t exp_next(eddy_restart *r, int64_t now_ms, int64_t started_ms) {
    if (now_ms - started_ms >= r->reset_after_ms) r->current_ms = r->initial_ms;
    int64_t d = r->current_ms;
    double next = (double)r->current_ms * r->multiplier;
    r->current_ms = next > (double)r->max_ms ? r->max_ms : (int64_t)next;
    d += (int64_t)((double)d * r->jitter * spread(r));
    return d < 0 ? 0 : d;
}

/* failure-rate: keeps the last max_failures + 1 failure times. */
static int64_t rate_next(eddy_restart *r, int64_t now_ms) {
    int64_t n = r->max_failures + 1;
    memmove(r->times, r->times + 1, (size_t)(n - 1) * sizeof *r->times);
    r->times[n - 1] = now_ms;
    r->failures++;
    if (r->failures >= n && now_ms - r->times[0] <= r->interval_ms) return -1;
    return r->delay_ms;
}

int64_t eddy_restart_next(eddy_restart *r, int64_t now_ms, int64_t started_ms) {
    switch (r->kind) {
    case R_FIXED:
        return r->failures++ < r->attempts ? r->delay_ms : -1;
    case R_EXP:
        r->failures++;
        return exp_next(r, now_ms, started_ms);
    case R_RATE:
        return rate_next(r, now_ms);
    default:
        return -1;
    }
}

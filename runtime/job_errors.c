/* job_errors.c - what a job does with failures short of failing: the
 * error budget (skips and dead letters over a window), poison pills (an
 * event that failed the same operator again after poison_after restarts),
 * and the dead-letter sink, whose committed length checkpoints carry.
 * The job owns the dead-letter sink and the poison records. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_impl.h"
#include "json.h"
#include "log.h"

/* ---- error budget ------------------------------------------------------- */

/* The slot of the current time, cleared when it starts a new period. */
static int budget_slot(eddy_job *job) {
    int64_t width = job->error_window_ms / BUDGET_SLOTS;
    int64_t now = eddy_clock_now(job->clock) / width;
    int i = (int)(now % BUDGET_SLOTS);
    if (job->slot_time[i] != now) {
        job->slot_time[i] = now;
        job->slot_events[i] = job->slot_errors[i] = 0;
    }
    return i;
}

void eddy_job_count_event(eddy_job *job) {
    if (job->max_error_ratio > 0) job->slot_events[budget_slot(job)]++;
}

void eddy_job_count_error(eddy_job *job) {
    if (job->max_error_ratio <= 0) return;
    job->slot_errors[budget_slot(job)]++;
    int64_t width = job->error_window_ms / BUDGET_SLOTS;
    int64_t now = eddy_clock_now(job->clock) / width;
    unsigned long long ev = 0, er = 0;
    for (int i = 0; i < BUDGET_SLOTS; i++) {
        if (now - job->slot_time[i] >= BUDGET_SLOTS) continue; /* stale */
        ev += job->slot_events[i];
        er += job->slot_errors[i];
    }
    /* judged once the window holds enough events for one error to fit */
    if ((double)ev * job->max_error_ratio < 1.0) return;
    if ((double)er > (double)ev * job->max_error_ratio)
        eddy_job_fail(job,
                      "error budget exceeded: %llu of %llu events "
                      "(%.1f%%) failed in the last %lld ms, more than "
                      "max_error_ratio %g allows",
                      er, ev, 100.0 * (double)er / (double)ev,
                      (long long)job->error_window_ms, job->max_error_ratio);
}

/* ---- poison pills -------------------------------------------------------- */

static poison *poison_find(eddy_job *job, const char *op, const char *src,
                           uint64_t pos) {
    for (int i = 0; i < job->npoisons; i++) {
        poison *p = &job->poisons[i];
        if (p->pos == pos && !strcmp(p->op, op) && !strcmp(p->src, src))
            return p;
    }
    return NULL;
}

/* Where the event in hand is from, for poison records: its source and
 * position, or for a timer "" and the timer's identity. */
static uint64_t origin_at(const eddy_job *job) {
    return job->origin_src ? job->origin_pos : job->origin_id;
}

int eddy_job_poisoned(eddy_job *job, const char *op) {
    poison *p = poison_find(job, op, job->origin_src ? job->origin_src : "",
                            origin_at(job));
    return p && p->count >= job->poison_after ? p->count : 0;
}

void eddy_job_fail_event(eddy_job *job, const char *op) {
    if (job->failed) return;
    free(job->fail_op);
    free(job->fail_src);
    job->fail_op = strdup(op);
    job->fail_src = strdup(job->origin_src ? job->origin_src : "");
    job->fail_pos = origin_at(job);
}

/* The failing event caused one more restart. */
void eddy_job_count_failure(eddy_job *job) {
    if (job->fail_op == NULL || job->fail_src == NULL) return;
    poison *p = poison_find(job, job->fail_op, job->fail_src, job->fail_pos);
    if (p == NULL) {
        poison *a =
            realloc(job->poisons, (size_t)(job->npoisons + 1) * sizeof *a);
        if (a == NULL) return;
        job->poisons = a;
        p = &a[job->npoisons++];
        p->op = job->fail_op;
        p->src = job->fail_src;
        p->pos = job->fail_pos;
        p->count = 0;
        job->fail_op = job->fail_src = NULL;
    }
    p->count++;
    free(job->fail_op);
    free(job->fail_src);
    job->fail_op = job->fail_src = NULL;
}

/* ---- dead letters ------------------------------------------------------ */

/* Opens the dead-letter sink (cut back after a recovery). */
int eddy_job_dlq_open(eddy_job *job, char *err, size_t errlen) {
    if (job->dlq_restore) eddy_sink_set_restore(job->dlq, job->dlq_restore_len);
    return eddy_sink_open(job->dlq, err, errlen);
}

static eddy_sink *dlq_sink(eddy_job *job) {
    if (job->dlq || job->dlq_failed) return job->dlq;
    char err[512];
    if (job->dlq_path == NULL) {
        char p[4096];
        snprintf(p, sizeof p, "%s/dead-letters.ndjson", job->state_dir);
        job->dlq_path = strdup(p);
        eddy_job_mkdirs(job->state_dir);
    }
    job->dlq =
        eddy_sink_new_file(job, "dead_letters", job->dlq_path, err, sizeof err);
    if (job->dlq == NULL || eddy_job_dlq_open(job, err, sizeof err) != 0) {
        job->dlq_failed = 1;
        eddy_job_fail(job, "dead letters: %s", err);
        eddy_sink_free(job->dlq);
        job->dlq = NULL;
    }
    return job->dlq;
}

int eddy_job_dlq_fd(eddy_job *job) {
    return job->dlq ? eddy_sink_fd(job->dlq) : -1;
}

int eddy_job_snapshot_extra(eddy_job *job, lua_State *L, int rec, char *err,
                            size_t errlen) {
    uint64_t len;
    if (job->dlq == NULL || !eddy_sink_exactly_once(job->dlq)) return 0;
    if (eddy_sink_committed(job->dlq, &len, err, errlen) != 0) return -1;
    lua_pushinteger(L, (lua_Integer)len);
    lua_setfield(L, rec, "dead_letters");
    return 0;
}

int eddy_job_restore_extra(eddy_job *job, lua_State *L, int rec, char *err,
                           size_t errlen) {
    lua_getfield(L, rec, "dead_letters");
    if (lua_isinteger(L, -1)) {
        job->dlq_restore = 1;
        job->dlq_restore_len = (uint64_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    /* a default dead-letter file is opened now, so it is cut back now */
    if (job->dlq_restore && job->dlq == NULL && dlq_sink(job) == NULL) {
        snprintf(err, errlen, "%s", job->failure);
        return -1;
    }
    return 0;
}

/* Pushes s[0..n) in standard base64 (RFC 4648, '+' '/', '=' padding).
 * [-0, +1, m] */
static void push_base64(lua_State *L, const char *s, size_t n) {
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *u = (const unsigned char *)s;
    luaL_Buffer lb;
    char *o0 = luaL_buffinitsize(L, &lb, (n + 2) / 3 * 4), *o = o0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned long v = (unsigned long)u[i] << 16;
        if (i + 1 < n) v |= (unsigned long)u[i + 1] << 8;
        if (i + 2 < n) v |= u[i + 2];
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    luaL_pushresultsize(&lb, (size_t)(o - o0));
}

/* Pushes the dead-letter record as a table: error, operator and key (null
 * when there is none, as for input that reached no operator), source,
 * position, and the event, or for input that could not be decoded its
 * raw text (written with U+FFFD for bytes that are not UTF-8) and then
 * also raw_base64, the exact bytes. [-0, +1, m] */
static void dlq_record(eddy_job *job, lua_State *L, const char *error,
                       const char *op, int key_idx, int ev_idx, const char *raw,
                       size_t rawlen) {
    lua_createtable(L, 0, 8);
    lua_pushstring(L, error);
    lua_setfield(L, -2, "error");
    if (op)
        lua_pushstring(L, op);
    else
        lua_pushlightuserdata(L, NULL); /* eddy.null: JSON null */
    lua_setfield(L, -2, "operator");
    if (key_idx)
        lua_pushvalue(L, key_idx);
    else
        lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "key");
    if (job->origin_src) /* else a timer: no source, no position */
        lua_pushstring(L, job->origin_src);
    else
        lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "source");
    if (job->origin_src)
        lua_pushinteger(L, (lua_Integer)job->origin_pos);
    else
        lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "position");
    if (ev_idx) {
        lua_pushvalue(L, ev_idx), lua_setfield(L, -2, "event");
        return;
    }
    if (raw == NULL) raw = "", rawlen = 0;
    lua_pushlstring(L, raw, rawlen), lua_setfield(L, -2, "raw");
    if (!eddy_json_utf8_valid(raw, rawlen))
        push_base64(L, raw, rawlen), lua_setfield(L, -2, "raw_base64");
}

void eddy_job_dead_letter(eddy_job *job, const char *error, const char *op,
                          lua_State *L, int key_idx, int ev_idx,
                          const char *raw, size_t rawlen) {
    job->dead_letters++;
    eddy_sink *s = dlq_sink(job);
    if (s == NULL) return;
    int was = eddy_vm_relax(job->vm, 1); /* reporting may outgrow the cap */
    if (key_idx) key_idx = lua_absindex(L, key_idx);
    if (ev_idx) ev_idx = lua_absindex(L, ev_idx);
    char err[256];
    dlq_record(job, L, error, op, key_idx, ev_idx, raw, rawlen);
    if (eddy_sink_write(s, L, -1, err, sizeof err) != 0) {
        /* the event itself cannot be written: keep its printable form
         * (raw text is a string already: nothing to replace) */
        if (ev_idx || key_idx)
            luaL_tolstring(L, ev_idx ? ev_idx : key_idx, NULL);
        else
            lua_pushnil(L);
        lua_setfield(L, -2, "event");
        lua_pushstring(L, err);
        lua_setfield(L, -2, "event_error");
        if (eddy_sink_write(s, L, -1, err, sizeof err) != 0)
            eddy_job_fail(job, "dead letters: %s", err);
    }
    lua_pop(L, 1);
    eddy_vm_relax(job->vm, was);
}

/* job.c - a job's life: load, run on the loop, stop, report.
 *
 * Loading runs the job file (the eddy DSL builds a plan table), then
 * builds the graph from the plan. Running starts the sources on one libev
 * loop; the loop ends when every bounded source is drained, on SIGINT or
 * SIGTERM (stop reading, finish the event in hand), or when the job fails.
 * Sinks are flushed every loop iteration and made durable at the end.
 * The job owns the vm, the loop, the graph and the dead-letter sink. */
#include "job.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "coremod.h"
#include "graph.h"
#include "log.h"
#include "observe.h"
#include "restart.h"
#include "sink.h"

#define BUDGET_SLOTS 10

/* An event that failed an operator, and how many restarts it caused. */
typedef struct poison {
    char *op, *src;
    uint64_t pos;
    int count;
} poison;

struct eddy_job {
    eddy_vm *vm;
    struct ev_loop *loop;
    eddy_clock *clock;
    eddy_graph *graph;
    char *name, *dir, *state_dir, *dlq_path;
    eddy_sink *dlq;
    int dlq_failed, lock_fd;
    int dlq_restore;            /* cut the dead letters back on open */
    uint64_t dlq_restore_len;
    eddy_store *store;
    eddy_ckpt *ckpt;
    int64_t interval_ms;        /* periodic checkpoints; 0: off */
    int64_t event_time_ms;      /* checkpoints as the watermark crosses
                                   multiples of it; 0: off */
    ev_signal sigusr1, sighup;
    /* restarts (kept across them) */
    char *job_file, *lua_dir, *cfg_state_dir;
    eddy_plan_hook plan_hook;
    void *plan_hook_ud;
    eddy_restart *restart;
    unsigned long restarts;
    int64_t started_ms;
    int poison_after;
    struct poison *poisons;
    int npoisons;
    char *fail_op, *fail_src; /* the event that failed the job, if any */
    uint64_t fail_pos;
    /* error budget: events and errors in BUDGET_SLOTS slots of the window */
    double max_error_ratio;   /* 0: no budget */
    int64_t error_window_ms;
    int64_t slot_time[BUDGET_SLOTS];
    unsigned long long slot_events[BUDGET_SLOTS], slot_errors[BUDGET_SLOTS];
    int failed, stopping;
    char failure[8192];
    const char *origin_src;
    uint64_t origin_pos;
    int has_ts;
    int64_t ts;
    unsigned long long dead_letters;
    ev_signal sigint, sigterm;
    ev_prepare flush;
    char *metrics_addr;
    eddy_obs *obs;              /* metrics and status (kept across restarts) */
};

eddy_vm *eddy_job_vm(eddy_job *job) { return job->vm; }
struct ev_loop *eddy_job_loop(eddy_job *job) { return job->loop; }
eddy_clock *eddy_job_clock(eddy_job *job) { return job->clock; }
const char *eddy_job_name(const eddy_job *job) { return job->name; }
const char *eddy_job_dir(const eddy_job *job) { return job->dir; }
eddy_ckpt *eddy_job_ckpt(eddy_job *job) { return job->ckpt; }
void eddy_job_set_metrics(eddy_job *job, const char *addr) {
    free(job->metrics_addr);
    job->metrics_addr = addr ? strdup(addr) : NULL;
}
unsigned long long eddy_job_dead_letters(const eddy_job *job) {
    return job->dead_letters;
}
int eddy_job_failed(const eddy_job *job) { return job->failed; }
int eddy_job_stopping(const eddy_job *job) { return job->stopping; }
struct eddy_graph *eddy_job_graph(eddy_job *job) { return job->graph; }
struct eddy_store *eddy_job_store(eddy_job *job) { return job->store; }
unsigned long eddy_job_restarts(const eddy_job *job) { return job->restarts; }
const char *eddy_job_failure(const eddy_job *job) { return job->failure; }

/* Milliseconds for restart strategies: monotonic, or simulated in tests. */
static int64_t job_ms(const eddy_job *job) {
    return eddy_clock_is_sim(job->clock) ? eddy_clock_now(job->clock)
                                         : eddy_clock_mono_ms();
}

void eddy_job_fail(eddy_job *job, const char *fmt, ...) {
    if (job->failed) return;
    job->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->failure, sizeof job->failure, fmt, ap);
    va_end(ap);
    if (job->loop) ev_break(job->loop, EVBREAK_ALL);
}

void eddy_job_stop(eddy_job *job) {
    job->stopping = 1;
    if (job->loop) ev_break(job->loop, EVBREAK_ALL);
}

void eddy_job_set_origin(eddy_job *job, const char *source, uint64_t pos) {
    job->origin_src = source;
    job->origin_pos = pos;
}

void eddy_job_origin(const eddy_job *job, const char **source, uint64_t *pos) {
    *source = job->origin_src;
    *pos = job->origin_pos;
}

int eddy_job_timestamp(const eddy_job *job, int64_t *ts) {
    *ts = job->ts;
    return job->has_ts;
}

void eddy_job_set_timestamp(eddy_job *job, int has, int64_t ts) {
    job->has_ts = has;
    job->ts = ts;
}

void eddy_job_watermark(eddy_job *job) {
    if (job->ckpt && job->graph)
        eddy_ckpt_watermark(job->ckpt, eddy_graph_watermark(job->graph));
}

void eddy_job_source_done(eddy_job *job) {
    if (job->graph && eddy_graph_drained(job->graph) && job->loop)
        ev_break(job->loop, EVBREAK_ALL);
}

/* mkdir -p; 0 or -1 with errno. */
static int mkdirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

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
        eddy_job_fail(job, "error budget exceeded: %llu of %llu events "
                      "(%.1f%%) failed in the last %lld ms, more than "
                      "max_error_ratio %g allows", er, ev,
                      100.0 * (double)er / (double)ev,
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

int eddy_job_poisoned(eddy_job *job, const char *op) {
    poison *p = poison_find(job, op, job->origin_src ? job->origin_src : "",
                            job->origin_pos);
    return p && p->count >= job->poison_after ? p->count : 0;
}

void eddy_job_fail_event(eddy_job *job, const char *op) {
    if (job->failed) return;
    free(job->fail_op);
    free(job->fail_src);
    job->fail_op = strdup(op);
    job->fail_src = strdup(job->origin_src ? job->origin_src : "");
    job->fail_pos = job->origin_pos;
}

/* The failing event caused one more restart. */
static void count_failure(eddy_job *job) {
    if (job->fail_op == NULL || job->fail_src == NULL) return;
    poison *p = poison_find(job, job->fail_op, job->fail_src, job->fail_pos);
    if (p == NULL) {
        poison *a = realloc(job->poisons,
                            (size_t)(job->npoisons + 1) * sizeof *a);
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
static int dlq_open(eddy_job *job, char *err, size_t errlen) {
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
        mkdirs(job->state_dir);
    }
    job->dlq = eddy_sink_new_file(job, "dead_letters", job->dlq_path, err,
                                  sizeof err);
    if (job->dlq == NULL || dlq_open(job, err, sizeof err) != 0) {
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

/* Pushes the dead-letter record as a table. [-0, +1, m] */
static void dlq_record(eddy_job *job, lua_State *L, const char *error,
                       const char *op, int key_idx, int ev_idx,
                       const char *raw, size_t rawlen) {
    lua_createtable(L, 0, 7);
    lua_pushstring(L, error);
    lua_setfield(L, -2, "error");
    if (op) lua_pushstring(L, op), lua_setfield(L, -2, "operator");
    if (key_idx) lua_pushvalue(L, key_idx), lua_setfield(L, -2, "key");
    if (job->origin_src)
        lua_pushstring(L, job->origin_src), lua_setfield(L, -2, "source");
    lua_pushinteger(L, (lua_Integer)job->origin_pos);
    lua_setfield(L, -2, "position");
    if (ev_idx)
        lua_pushvalue(L, ev_idx), lua_setfield(L, -2, "event");
    else
        lua_pushlstring(L, raw ? raw : "", rawlen), lua_setfield(L, -2, "raw");
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
        /* the event itself cannot be written: keep its printable form */
        luaL_tolstring(L, ev_idx ? ev_idx : key_idx, NULL);
        lua_setfield(L, -2, "event");
        lua_pushstring(L, err);
        lua_setfield(L, -2, "event_error");
        if (eddy_sink_write(s, L, -1, err, sizeof err) != 0)
            eddy_job_fail(job, "dead letters: %s", err);
    }
    lua_pop(L, 1);
    eddy_vm_relax(job->vm, was);
}

/* ---- loading ----------------------------------------------------------- */

/* Puts the eddy modules, the job's directory and eddy.core on the paths.
 * [-0, +0, m] */
static void set_paths(lua_State *L, const char *lua_dir, const char *job_dir) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    /* stack: package path */
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s/?.lua;%s/?/init.lua;%s",
                    lua_dir, lua_dir, job_dir, job_dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, eddy_open_core);
    lua_setfield(L, -2, "eddy.core");
    lua_pop(L, 2);
}

/* Reads job-wide options from the plan at index plan. */
static int read_options(eddy_job *job, lua_State *L, int plan, char *err,
                        size_t errlen) {
    lua_getfield(L, plan, "name");
    free(job->name);
    job->name = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "job");
    lua_getfield(L, plan, "limits");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    lua_getfield(L, -1, "event_ms");
    lua_getfield(L, -2, "memory_mb");
    /* stack: name limits event_ms memory_mb */
    int64_t event_ms = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 10000;
    lua_Integer mem = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 4);
    if (eddy_vm_set_limits(job->vm, event_ms, (size_t)mem << 20) != 0) {
        snprintf(err, errlen, "cannot start the limits watchdog");
        return -1;
    }
    if (job->restart == NULL) { /* the first load; restarts keep it */
        lua_getfield(L, plan, "restart");
        job->restart = eddy_restart_new(L, lua_gettop(L), err, errlen);
        lua_getfield(L, plan, "poison_after");
        job->poison_after = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 3;
        lua_pop(L, 2);
        if (job->restart == NULL) return -1;
    }
    lua_getfield(L, plan, "max_error_ratio");
    lua_getfield(L, plan, "error_window_ms");
    job->max_error_ratio = lua_isnumber(L, -2) ? lua_tonumber(L, -2) : 0;
    job->error_window_ms = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 60000;
    lua_pop(L, 2);
    if (job->max_error_ratio < 0 || job->max_error_ratio > 1 ||
        job->error_window_ms < BUDGET_SLOTS) {
        snprintf(err, errlen, "max_error_ratio must be between 0 and 1 and "
                 "error_window_ms at least %d", BUDGET_SLOTS);
        return -1;
    }
    /* checkpoint = { interval_ms = N } or false (no periodic ones) */
    job->interval_ms = 10000;
    int t = lua_getfield(L, plan, "checkpoint");
    if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) job->interval_ms = 0;
    if (t == LUA_TTABLE) {
        lua_getfield(L, -1, "interval_ms");
        if (lua_isinteger(L, -1)) job->interval_ms = lua_tointeger(L, -1);
        lua_getfield(L, -2, "event_time_ms");
        if (lua_isinteger(L, -1)) job->event_time_ms = lua_tointeger(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    return 0;
}

/* Runs the job file and leaves its plan on the stack. [-0, +(1|0), -] */
static int run_job_file(eddy_job *job, const char *path, char *err,
                        size_t errlen) {
    lua_State *L = eddy_vm_state(job->vm);
    if (eddy_vm_load_file(job->vm, path) != 0 ||
        eddy_vm_call(job->vm, 0, 1) != 0) {
        snprintf(err, errlen, "%s", eddy_vm_error(job->vm));
        return -1;
    }
    /* stack: job */
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "plan") != LUA_TFUNCTION) {
        if (lua_istable(L, -1)) lua_pop(L, 1);
        lua_pop(L, 1);
        snprintf(err, errlen, "%s: the job file must return a job "
                 "(return eddy.job{...})", path);
        return -1;
    }
    lua_insert(L, -2);
    /* stack: plan_fn job */
    if (eddy_vm_call(job->vm, 1, 1) != 0) {
        snprintf(err, errlen, "%s", eddy_vm_error(job->vm));
        return -1;
    }
    return 0;
}

static char *dir_of(const char *path) {
    char *abs = realpath(path, NULL);
    if (abs == NULL) return NULL;
    char *slash = strrchr(abs, '/');
    if (slash == abs) slash[1] = '\0';
    else *slash = '\0';
    return abs;
}

/* Opens the dead-letter sink the job named with job:dead_letter(sink). */
static int open_dlq(eddy_job *job, lua_State *L, int plan, char *err,
                    size_t errlen) {
    lua_getfield(L, plan, "dead_letter");
    int rc = 0;
    if (lua_istable(L, -1)) {
        job->dlq = eddy_sink_new(job, L, lua_gettop(L), job->dir, err, errlen);
        rc = job->dlq ? 0 : -1; /* opened by eddy_job_run, once locked */
    }
    lua_pop(L, 1);
    return rc;
}

static int load_plan(eddy_job *job, const eddy_job_config *cfg, char *err,
                     size_t errlen) {
    lua_State *L = eddy_vm_state(job->vm);
    set_paths(L, cfg->lua_dir, job->dir);
    if (run_job_file(job, cfg->job_file, err, errlen) != 0) return -1;
    int plan = lua_gettop(L);
    int rc = read_options(job, L, plan, err, errlen);
    if (rc == 0) {
        char sd[4096];
        if (cfg->state_dir)
            snprintf(sd, sizeof sd, "%s", cfg->state_dir);
        else
            snprintf(sd, sizeof sd, "eddy-state/%s", job->name);
        free(job->state_dir);
        job->state_dir = strdup(sd);
        if (job->plan_hook &&
            job->plan_hook(job->plan_hook_ud, L, plan, err, errlen) != 0) {
            lua_pop(L, 1);
            return -1;
        }
        job->graph = eddy_graph_build(job, L, plan, job->dir, err, errlen);
        rc = job->graph ? 0 : -1;
    }
    if (rc == 0 && !cfg->check_only) rc = open_dlq(job, L, plan, err, errlen);
    lua_pop(L, 1);
    return rc;
}

eddy_job *eddy_job_load(const eddy_job_config *cfg, char *err, size_t errlen) {
    eddy_job *job = calloc(1, sizeof *job);
    if (job == NULL) return NULL;
    job->lock_fd = -1;
    job->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    job->vm = eddy_vm_new();
    job->dir = dir_of(cfg->job_file);
    if (job->dir == NULL) {
        snprintf(err, errlen, "%s: %s", cfg->job_file, strerror(errno));
        eddy_job_free(job);
        return NULL;
    }
    if (cfg->simulated)
        job->clock = eddy_clock_new_sim(cfg->sim_start_ms);
    else
        job->clock = job->loop ? eddy_clock_new_real(job->loop) : NULL;
    job->plan_hook = cfg->plan_hook;
    job->plan_hook_ud = cfg->plan_hook_ud;
    if (!job->loop || !job->vm || !job->clock) {
        snprintf(err, errlen, "out of memory");
        eddy_job_free(job);
        return NULL;
    }
    job->job_file = strdup(cfg->job_file);
    job->lua_dir = strdup(cfg->lua_dir);
    job->cfg_state_dir = cfg->state_dir ? strdup(cfg->state_dir) : NULL;
    eddy_vm_set_limits(job->vm, 10000, 0);
    if (load_plan(job, cfg, err, errlen) != 0) {
        eddy_job_free(job);
        return NULL;
    }
    return job;
}

/* ---- running ----------------------------------------------------------- */

/* Takes an exclusive lock on the state dir: two jobs must never share it. */
static int lock_state_dir(eddy_job *job, char *err, size_t errlen) {
    char p[4096];
    if (mkdirs(job->state_dir) != 0) {
        snprintf(err, errlen, "state dir %s: %s", job->state_dir,
                 strerror(errno));
        return -1;
    }
    snprintf(p, sizeof p, "%s/eddy.lock", job->state_dir);
    job->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (job->lock_fd < 0 || flock(job->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "state dir %s is locked by another eddy "
                 "process (%s)", job->state_dir,
                 job->lock_fd < 0 ? strerror(errno) : "flock");
        return -1;
    }
    return 0;
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents) {
    eddy_job *job = w->data;
    eddy_info("signal %d: stopping after the event in hand", w->signum);
    if (job->graph) eddy_graph_stop_sources(job->graph);
    eddy_job_stop(job);
}

/* Before the loop waits: write what the sinks buffered. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
    eddy_job *job = w->data;
    char err[512];
    if (job->graph == NULL) return;
    if (eddy_graph_flush(job->graph, err, sizeof err) != 0)
        eddy_job_fail(job, "%s", err);
    if (job->dlq && eddy_sink_flush(job->dlq, err, sizeof err) != 0)
        eddy_job_fail(job, "dead letters: %s", err);
}

static void watch_flush(eddy_job *job) {
    ev_prepare_init(&job->flush, on_prepare);
    job->flush.data = job;
    ev_prepare_start(job->loop, &job->flush);
    ev_unref(job->loop); /* it alone does not keep the loop alive */
}

static void watch_signals(eddy_job *job) {
    ev_signal_init(&job->sigint, on_stop_signal, SIGINT);
    ev_signal_init(&job->sigterm, on_stop_signal, SIGTERM);
    job->sigint.data = job->sigterm.data = job;
    ev_signal_start(job->loop, &job->sigint);
    ev_signal_start(job->loop, &job->sigterm);
    ev_unref(job->loop); /* signals alone do not keep the loop alive */
    ev_unref(job->loop);
}

/* Ends the run: close hooks, durable sinks, summary. Returns exit code. */
static int finish(eddy_job *job) {
    char err[512];
    eddy_obs_finish(job->obs);
    if (job->graph == NULL) { /* failed while restarting */
        eddy_error("job %s failed: %s", job->name, job->failure);
        return 1;
    }
    eddy_graph_stop_sources(job->graph);
    if (!job->failed) {
        if (eddy_graph_close(job->graph, err, sizeof err) != 0 ||
            (job->dlq && eddy_sink_sync(job->dlq, err, sizeof err) != 0) ||
            (job->ckpt && eddy_ckpt_final(job->ckpt, err, sizeof err) != 0))
            eddy_job_fail(job, "%s", err);
        else if (job->store)
            eddy_store_settle(job->store);
    }
    eddy_graph_log_summary(job->graph);
    if (job->restarts)
        eddy_warn("%lu restarts (%s)", job->restarts,
                  eddy_restart_name(job->restart));
    if (job->dead_letters)
        eddy_warn("%llu dead letters written to %s", job->dead_letters,
                  job->dlq && eddy_sink_path(job->dlq)
                      ? eddy_sink_path(job->dlq)
                      : job->dlq ? eddy_sink_name(job->dlq) : "(none)");
    if (job->failed) {
        eddy_graph_flush(job->graph, err, sizeof err);
        if (job->dlq) eddy_sink_flush(job->dlq, err, sizeof err);
        eddy_error("job %s failed: %s", job->name, job->failure);
        return 1;
    }
    return 0;
}

/* Opens the store and recovers from its last checkpoint. */
static int recover(eddy_job *job, char *err, size_t errlen) {
    if (job->store == NULL)
        job->store = eddy_store_open(job->state_dir, 1, err, errlen);
    if (job->store == NULL) return -1;
    job->ckpt = eddy_ckpt_new(job, job->graph, job->store, job->interval_ms,
                              job->event_time_ms);
    if (job->ckpt == NULL) {
        snprintf(err, errlen, "cannot start the checkpoint writer");
        return -1;
    }
    return eddy_ckpt_recover(job->ckpt, job->state_dir, err, errlen);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents) {
    eddy_job *job = w->data;
    if (job->graph) eddy_graph_reload(job->graph, job->vm);
}

static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents) {
    eddy_job *job = w->data;
    if (job->ckpt) eddy_ckpt_trigger(job->ckpt, "signal");
}

/* Opens the dead-letter sink and starts the graph and checkpoints. */
static int start(eddy_job *job, char *err, size_t errlen) {
    if ((job->dlq && !job->dlq_failed && eddy_sink_fd(job->dlq) < 0 &&
         dlq_open(job, err, errlen) != 0) ||
        eddy_graph_start(job->graph, err, errlen) != 0)
        return -1;
    eddy_ckpt_start(job->ckpt);
    job->started_ms = job_ms(job);
    return 0;
}

/* Throws away the Lua state and the graph (not the store or the loop). */
static void teardown(eddy_job *job) {
    eddy_obs_fold(job->obs); /* totals go on counting after the restart */
    eddy_ckpt_free(job->ckpt);
    job->ckpt = NULL;
    if (job->graph) {
        eddy_graph_stop_sources(job->graph);
        eddy_graph_log_summary(job->graph);
        eddy_graph_free(job->graph);
        job->graph = NULL;
    }
    eddy_sink_free(job->dlq);
    job->dlq = NULL;
    job->dlq_failed = job->dlq_restore = 0;
    eddy_vm_free(job->vm);
    job->vm = NULL;
}

/* Builds everything again from the job file and the last checkpoint. */
static int rebuild(eddy_job *job, char *err, size_t errlen) {
    eddy_job_config cfg = {job->job_file, job->lua_dir, job->cfg_state_dir,
                           0, 0, 0, NULL, NULL};
    job->vm = eddy_vm_new();
    if (job->vm == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    eddy_vm_set_limits(job->vm, 10000, 0);
    if (load_plan(job, &cfg, err, errlen) != 0 ||
        recover(job, err, errlen) != 0)
        return -1;
    return start(job, err, errlen);
}

static void on_wake(struct ev_loop *loop, ev_timer *w, int revents) {
    ev_break(loop, EVBREAK_ALL);
}

/* Why the job failed, for the restart counters. */
static const char *restart_cause(const eddy_job *job) {
    if (job->fail_op) return "operator";
    if (strncmp(job->failure, "error budget", 12) == 0) return "error_budget";
    return "other";
}

/* The job failed: restarts it in this process if the strategy allows.
 * 0 restarted, -1 not (job->failure says why). */
static int restart(eddy_job *job) {
    int64_t delay = eddy_restart_next(job->restart, job_ms(job),
                                      job->started_ms);
    if (delay < 0 || job->stopping) {
        if (delay < 0 && job->restarts > 0) {
            size_t n = strlen(job->failure);
            snprintf(job->failure + n, sizeof job->failure - n,
                     " (restart strategy %s exhausted after %lu restarts)",
                     eddy_restart_name(job->restart), job->restarts);
        }
        return -1;
    }
    eddy_obs_restart(job->obs, restart_cause(job), job->failure);
    count_failure(job);
    job->restarts++;
    eddy_warn("job %s failed: %s", job->name, job->failure);
    eddy_warn("restart %lu in %lld ms (%s): state from the last completed "
              "checkpoint", job->restarts, (long long)delay,
              eddy_restart_name(job->restart));
    teardown(job);
    if (eddy_clock_is_sim(job->clock)) { /* tests: the delay is simulated */
        eddy_clock_advance(job->clock, eddy_clock_now(job->clock) + delay);
    } else {
        ev_timer wake;
        ev_timer_init(&wake, on_wake, (double)delay / 1000.0, 0.0);
        ev_timer_start(job->loop, &wake);
        ev_run(job->loop, 0);
        ev_timer_stop(job->loop, &wake);
    }
    char err[4096];
    if (job->stopping) return -1;
    job->failed = 0;
    job->failure[0] = '\0';
    if (rebuild(job, err, sizeof err) != 0) {
        eddy_job_fail(job, "restart %lu failed: %s", job->restarts, err);
        return -1;
    }
    return 0;
}

/* Locks the state dir and recovers from its last checkpoint. */
static int open_state(eddy_job *job, char *err, size_t errlen) {
    return lock_state_dir(job, err, errlen) != 0 ||
                   recover(job, err, errlen) != 0
               ? -1
               : 0;
}

int eddy_job_run(eddy_job *job) {
    char err[2048];
    signal(SIGPIPE, SIG_IGN);
    job->obs = eddy_obs_new(job, job->metrics_addr, err, sizeof err);
    if (job->obs == NULL || open_state(job, err, sizeof err) != 0) {
        eddy_error("%s", err);
        return 1;
    }
    watch_flush(job);
    watch_signals(job);
    ev_signal_init(&job->sigusr1, on_usr1, SIGUSR1);
    job->sigusr1.data = job;
    ev_signal_start(job->loop, &job->sigusr1);
    ev_unref(job->loop);
    ev_signal_init(&job->sighup, on_hup, SIGHUP);
    job->sighup.data = job;
    ev_signal_start(job->loop, &job->sighup);
    ev_unref(job->loop);
    if (start(job, err, sizeof err) != 0) eddy_job_fail(job, "%s", err);
    for (;;) {
        while (!job->failed && !job->stopping &&
               !eddy_graph_drained(job->graph))
            if (!ev_run(job->loop, 0)) break; /* no active watchers left */
        if (!job->failed || restart(job) != 0) break;
    }
    return finish(job);
}

int eddy_job_begin(eddy_job *job, char *err, size_t errlen) {
    if (open_state(job, err, errlen) != 0) return -1;
    watch_flush(job);
    if (start(job, err, errlen) != 0) eddy_job_fail(job, "%s", err);
    return 0;
}

int eddy_job_turn(eddy_job *job) {
    if (job->graph == NULL) return 0;
    if (!job->failed && !job->stopping && !eddy_graph_drained(job->graph))
        ev_run(job->loop, EVRUN_NOWAIT);
    if (job->failed) return restart(job) == 0;
    return !job->stopping && !eddy_graph_drained(job->graph);
}

int eddy_job_end(eddy_job *job) { return finish(job); }

int eddy_job_checkpoint(eddy_job *job, char *err, size_t errlen) {
    if (job->ckpt == NULL || job->graph == NULL) {
        snprintf(err, errlen, "the job is not running");
        return -1;
    }
    return eddy_ckpt_now(job->ckpt, "manual", err, errlen);
}

uint64_t eddy_job_last_checkpoint(const eddy_job *job) {
    return job->ckpt ? eddy_ckpt_last(job->ckpt) : 0;
}

void eddy_job_free(eddy_job *job) {
    if (job == NULL) return;
    eddy_obs_free(job->obs);
    eddy_ckpt_free(job->ckpt);
    eddy_graph_free(job->graph);
    eddy_sink_free(job->dlq);
    eddy_store_close(job->store);
    if (job->loop) ev_loop_destroy(job->loop);
    eddy_vm_free(job->vm);
    eddy_clock_free(job->clock);
    if (job->lock_fd >= 0) close(job->lock_fd);
    eddy_restart_free(job->restart);
    for (int i = 0; i < job->npoisons; i++) {
        free(job->poisons[i].op);
        free(job->poisons[i].src);
    }
    free(job->poisons);
    free(job->fail_op);
    free(job->fail_src);
    free(job->job_file);
    free(job->lua_dir);
    free(job->cfg_state_dir);
    free(job->metrics_addr);
    free(job->name);
    free(job->dir);
    free(job->state_dir);
    free(job->dlq_path);
    free(job);
}

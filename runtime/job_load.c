/* job_load.c - loading a job: runs the job file in the job's vm (the
 * eddy DSL builds a plan table), reads the job-wide options, lets the
 * testing kit rewrite the plan, builds the graph and the dead-letter sink.
 * Restarts load again through eddy_job_load_plan. */
#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coremod.h"
#include "job_impl.h"
#include "log.h"
#include "texts.h"

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

/* A job without a name is named after its file: "jobs/jobA.lua" is
 * "jobA" (characters a name may not hold become '_'), so jobs without
 * names get state dirs of their own. Malloc'd, or NULL. */
static char *default_name(const char *job_file) {
    const char *base = strrchr(job_file, '/');
    char *name = strdup(base ? base + 1 : job_file);
    if (name == NULL) return NULL;
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".lua") == 0) name[n - 4] = '\0';
    for (char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("_.-", *c)) *c = '_';
    if (strspn(name, ".") < strlen(name)) return name; /* not "" or ".." */
    free(name);
    return strdup("job");
}

/* Jobs without a name used eddy-state/job before they were named after
 * their files: say so when that dir is there and the new one is not, so
 * that such a job does not start afresh unnoticed. */
static void warn_old_default(const char *sd) {
    struct stat st;
    if (stat("eddy-state/job", &st) != 0 || !S_ISDIR(st.st_mode) ||
        strcmp(sd, "eddy-state/job") == 0 || stat(sd, &st) == 0)
        return;
    eddy_warn("this job has no name, so its state dir is %s; ./eddy-state/job "
              "holds the state of a job without a name from an earlier eddy "
              "(they all used it): to resume that state, set name = \"job\" "
              "or run with --state-dir eddy-state/job",
              sd);
}

/* Reads job-wide options from the plan at index plan. */
static int read_options(eddy_job *job, lua_State *L, int plan, char *err,
                        size_t errlen) {
    lua_getfield(L, plan, "name");
    free(job->name);
    job->name = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1))
                                    : default_name(job->job_file);
    if (job->name == NULL) {
        lua_pop(L, 1);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
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
        job->poison_after =
            lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 3;
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
        snprintf(err, errlen,
                 "max_error_ratio must be between 0 and 1 and "
                 "error_window_ms at least %d",
                 BUDGET_SLOTS);
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
        snprintf(err, errlen,
                 "%s: the job file must return a job "
                 "(return eddy.job{...})",
                 path);
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
    if (slash == abs)
        slash[1] = '\0';
    else
        *slash = '\0';
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

int eddy_job_load_plan(eddy_job *job, const eddy_job_config *cfg, char *err,
                       size_t errlen) {
    lua_State *L = eddy_vm_state(job->vm);
    set_paths(L, cfg->lua_dir, job->dir);
    if (run_job_file(job, cfg->job_file, err, errlen) != 0) return -1;
    int plan = lua_gettop(L);
    lua_getfield(L, plan, "name");
    int named = !lua_isnil(L, -1);
    lua_pop(L, 1);
    int rc = read_options(job, L, plan, err, errlen);
    if (rc == 0) {
        char sd[4096];
        if (cfg->state_dir)
            snprintf(sd, sizeof sd, "%s", cfg->state_dir);
        else
            snprintf(sd, sizeof sd, "eddy-state/%s", job->name);
        free(job->state_dir);
        job->state_dir = strdup(sd);
        if (!cfg->state_dir && !named && job->restarts == 0)
            warn_old_default(sd);
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
    if ((job->texts = eddy_texts_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        eddy_job_free(job);
        return NULL;
    }
    eddy_vm_set_texts(job->vm, job->texts);
    if (eddy_job_load_plan(job, cfg, err, errlen) != 0) {
        eddy_job_free(job);
        return NULL;
    }
    eddy_texts_accept(job->texts, NULL); /* what a restart will run */
    return job;
}

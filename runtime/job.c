/* job.c - a job's life: load, run on the loop, stop, report.
 *
 * Loading (job_load.c) runs the job file and builds the graph from its
 * plan; failures short of failing are job_errors.c's. Running starts the
 * sources on one libev
 * loop; the loop ends when every bounded source is drained, on SIGINT or
 * SIGTERM (stop reading, finish the event in hand), or when the job fails.
 * Sinks are flushed every loop iteration and made durable at the end.
 * The job owns the vm, the loop, the graph and the dead-letter sink. */
#include "job.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_impl.h"
#include "log.h"
#include "texts.h"

eddy_vm *eddy_job_vm(eddy_job *job) {
    return job->vm;
}
struct ev_loop *eddy_job_loop(eddy_job *job) {
    return job->loop;
}
eddy_clock *eddy_job_clock(eddy_job *job) {
    return job->clock;
}
const char *eddy_job_name(const eddy_job *job) {
    return job->name;
}
const char *eddy_job_dir(const eddy_job *job) {
    return job->dir;
}
const char *eddy_job_state_dir(const eddy_job *job) {
    return job->state_dir;
}
eddy_ckpt *eddy_job_ckpt(eddy_job *job) {
    return job->ckpt;
}
void eddy_job_set_metrics(eddy_job *job, const char *addr) {
    free(job->metrics_addr);
    job->metrics_addr = addr ? strdup(addr) : NULL;
}
unsigned long long eddy_job_dead_letters(const eddy_job *job) {
    return job->dead_letters;
}
int eddy_job_failed(const eddy_job *job) {
    return job->failed;
}
int eddy_job_stopping(const eddy_job *job) {
    return job->stopping;
}
struct eddy_graph *eddy_job_graph(eddy_job *job) {
    return job->graph;
}
struct eddy_store *eddy_job_store(eddy_job *job) {
    return job->store;
}
unsigned long eddy_job_restarts(const eddy_job *job) {
    return job->restarts;
}
const char *eddy_job_failure(const eddy_job *job) {
    return job->failure;
}

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

void eddy_job_hold_turn(eddy_job *job, const void *holder, int on) {
    if (on)
        job->turn_holder = holder;
    else if (job->turn_holder == holder)
        job->turn_holder = NULL;
}

int eddy_job_turn_held(const eddy_job *job, const void *who) {
    return job->turn_holder != NULL && job->turn_holder != who;
}

void eddy_job_no_restart(eddy_job *job) {
    job->no_restart = 1;
}

void eddy_job_stop(eddy_job *job) {
    job->stopping = 1;
    if (job->loop) ev_break(job->loop, EVBREAK_ALL);
}

void eddy_job_set_origin(eddy_job *job, const char *source, uint64_t pos) {
    job->origin_src = source;
    job->origin_pos = pos;
    job->origin_id = 0;
}

void eddy_job_set_timer_origin(eddy_job *job, uint64_t id) {
    eddy_job_set_origin(job, NULL, 0);
    job->origin_id = id;
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

int eddy_job_mkdirs(const char *path) {
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

/* ---- running ----------------------------------------------------------- */

/* Takes an exclusive lock on the state dir: two jobs must never share it. */
static int lock_state_dir(eddy_job *job, char *err, size_t errlen) {
    char p[4096];
    if (eddy_job_mkdirs(job->state_dir) != 0) {
        snprintf(err, errlen, "state dir %s: %s", job->state_dir,
                 strerror(errno));
        return -1;
    }
    snprintf(p, sizeof p, "%s/eddy.lock", job->state_dir);
    job->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (job->lock_fd < 0 || flock(job->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen,
                 "state dir %s is locked by another eddy "
                 "process (%s)",
                 job->state_dir, job->lock_fd < 0 ? strerror(errno) : "flock");
        return -1;
    }
    return 0;
}

/* Set by a signal or by a thread with news for the loop (a checkpoint
 * written), cleared as the loop turns (on_prepare): a source delivering a
 * run of lines stops between two events to let the loop answer
 * (eddy_job_loop_wanted). Signals are the process's, so one flag. */
static atomic_int loop_wanted;

void eddy_job_want_loop(void) {
    atomic_store(&loop_wanted, 1);
}

static void on_raw_signal(int signum) {
    atomic_store(&loop_wanted, 1); /* lock-free: safe in a handler */
    ev_feed_signal(signum);        /* what libev's own handler does */
}

/* Puts on_raw_signal in front of libev's handler for signum (libev uses
 * sigaction here, not signalfd: the loop is made without
 * EVFLAG_SIGNALFD). Call after ev_signal_start. */
static void front_signal(int signum) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_raw_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(signum, &sa, NULL);
}

int eddy_job_loop_wanted(void) {
    return atomic_load(&loop_wanted);
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
    atomic_store(&loop_wanted, 0); /* what is waiting now, the poll sees */
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

/* Watches the signals eddy answers; signals alone do not keep the loop
 * alive. on_usr1 and on_hup are defined further down. */
static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents);
static void on_hup(struct ev_loop *loop, ev_signal *w, int revents);
static void watch_signals(eddy_job *job) {
    ev_signal_init(&job->sigint, on_stop_signal, SIGINT);
    ev_signal_init(&job->sigterm, on_stop_signal, SIGTERM);
    ev_signal_init(&job->sigusr1, on_usr1, SIGUSR1);
    ev_signal_init(&job->sighup, on_hup, SIGHUP);
    ev_signal *all[] = {&job->sigint, &job->sigterm, &job->sigusr1,
                        &job->sighup};
    for (int i = 0; i < 4; i++) {
        all[i]->data = job;
        ev_signal_start(job->loop, all[i]);
        ev_unref(job->loop);
        front_signal(all[i]->signum);
    }
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
                  : job->dlq ? eddy_sink_name(job->dlq)
                             : "(none)");
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
    if (job->graph) eddy_graph_reload(job->graph, job->vm, 0);
}

static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents) {
    eddy_job *job = w->data;
    if (job->ckpt) eddy_ckpt_trigger(job->ckpt, "signal");
}

/* Opens the dead-letter sink and starts the graph and checkpoints. */
static int start(eddy_job *job, char *err, size_t errlen) {
    if ((job->dlq && !job->dlq_failed && eddy_sink_fd(job->dlq) < 0 &&
         eddy_job_dlq_open(job, err, errlen) != 0) ||
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
    job->turn_holder = NULL; /* a source of the graph just freed */
}

/* Builds everything again from the job file and the last checkpoint. */
static int rebuild(eddy_job *job, char *err, size_t errlen) {
    eddy_job_config cfg = {
        job->job_file, job->lua_dir, job->cfg_state_dir, 0, 0, 0, NULL, NULL};
    job->vm = eddy_vm_new();
    if (job->vm == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    eddy_vm_set_limits(job->vm, 10000, 0);
    eddy_vm_set_texts(job->vm, job->texts);
    eddy_texts_replay(job->texts, 1); /* the code that ran, not the disk's */
    int rc = eddy_job_load_plan(job, &cfg, err, errlen);
    eddy_texts_replay(job->texts, 0);
    if (rc != 0 || recover(job, err, errlen) != 0 ||
        start(job, err, errlen) != 0)
        return -1;
    eddy_texts_accept(job->texts, NULL);
    /* a script saved since: as hot reload would have taken it */
    eddy_graph_reload(job->graph, job->vm, 1);
    return 0;
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

/* Waits out a restart delay (simulated in tests). */
static void restart_wait(eddy_job *job, int64_t delay) {
    if (eddy_clock_is_sim(job->clock)) {
        eddy_clock_advance(job->clock, eddy_clock_now(job->clock) + delay);
        return;
    }
    ev_timer wake;
    ev_timer_init(&wake, on_wake, (double)delay / 1000.0, 0.0);
    ev_timer_start(job->loop, &wake);
    ev_run(job->loop, 0);
    ev_timer_stop(job->loop, &wake);
}

/* The job failed: restarts it in this process while the strategy allows.
 * A restart whose operator code fails (an open hook) is one more failure
 * for the strategy. 0 restarted, -1 not (job->failure says why). */
static int restart(eddy_job *job) {
    char err[4096];
    for (;;) {
        int64_t delay =
            eddy_restart_next(job->restart, job_ms(job), job->started_ms);
        if (job->no_restart) return -1;
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
        eddy_job_count_failure(job);
        job->restarts++;
        eddy_warn("job %s failed: %s", job->name, job->failure);
        eddy_warn("restart %lu in %lld ms (%s): state from the last "
                  "completed checkpoint",
                  job->restarts, (long long)delay,
                  eddy_restart_name(job->restart));
        teardown(job);
        restart_wait(job, delay);
        if (job->stopping) return -1;
        job->failed = 0;
        job->failure[0] = '\0';
        if (rebuild(job, err, sizeof err) == 0) return 0;
        /* the job's own code failed (an open hook): it may work next time,
         * the strategy decides; anything else (the state dir, a sink
         * changed outside eddy) would fail the same way again */
        int retry = job->failed;
        job->failed = 0;
        eddy_job_fail(job, "restart %lu failed: %s", job->restarts, err);
        if (!retry) return -1;
    }
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
    job->busy = 0;
    if (job->graph == NULL) return 0;
    if (!job->failed && !job->stopping && !eddy_graph_drained(job->graph))
        job->busy = ev_run(job->loop, EVRUN_NOWAIT) != 0;
    if (job->failed) return restart(job) == 0;
    return !job->stopping && !eddy_graph_drained(job->graph);
}

int eddy_job_end(eddy_job *job) {
    return finish(job);
}

int eddy_job_busy(const eddy_job *job) {
    return job->busy;
}

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
    eddy_texts_free(job->texts);
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

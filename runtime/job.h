/* job.h - a running job: its graph, loop, counters and failure state. */
#ifndef EDDY_JOB_H
#define EDDY_JOB_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "vm.h"

struct ev_loop;
struct eddy_graph;
typedef struct eddy_job eddy_job;

/* Called with the plan table at index plan before the graph is built.
 * 0, or -1 with err. [-0, +0, m] */
typedef int (*eddy_plan_hook)(void *ud, lua_State *L, int plan, char *err,
                              size_t errlen);

typedef struct eddy_job_config {
    const char *job_file;
    const char *lua_dir;   /* where the eddy Lua modules are */
    const char *state_dir; /* NULL: ./eddy-state/<job name> */
    int check_only;        /* load and validate, never run */
    /* the testing kit: a simulated clock starting at sim_start_ms (no
     * signals, no script watching), and a hook that swaps sources and
     * sinks for memory ones (kept for restarts) */
    int simulated;
    int64_t sim_start_ms;
    eddy_plan_hook plan_hook;
    void *plan_hook_ud;
} eddy_job_config;

/* Loads the job file and builds the dataflow. NULL on failure with the
 * message (naming file:line) in err. */
eddy_job *eddy_job_load(const eddy_job_config *cfg, char *err, size_t errlen);
/* Runs until bounded sources are drained or a stop signal; returns the
 * process exit code (0 done, 1 failed) and logs why it failed. */
int eddy_job_run(eddy_job *job);
void eddy_job_free(eddy_job *job);

/* ---- step by step, for the testing kit ----
 * begin locks the state dir, recovers and starts the graph (-1 with err
 * when the state dir cannot be used); each turn restarts a failed job as
 * its strategy allows and runs the loop once without waiting, returning 1
 * while the job runs and 0 once it is over (drained, stopped, or failed for
 * good); end finishes it as eddy_job_run does and returns the exit code.
 * Freeing a job that did not end is a crash: nothing after the last
 * checkpoint is kept. */
int eddy_job_begin(eddy_job *job, char *err, size_t errlen);
int eddy_job_turn(eddy_job *job);
int eddy_job_end(eddy_job *job);
/* Whether the last turn left a watcher of its own loop active (a file
 * source still reading, a checkpoint being written): work goes on without
 * the simulated clock moving. */
int eddy_job_busy(const eddy_job *job);
/* A checkpoint now, durable on return: 0, or -1 with err. */
int eddy_job_checkpoint(eddy_job *job, char *err, size_t errlen);
uint64_t eddy_job_last_checkpoint(const eddy_job *job);
struct eddy_graph *eddy_job_graph(eddy_job *job); /* NULL while restarting */
struct eddy_store *eddy_job_store(eddy_job *job); /* NULL before begin */
unsigned long eddy_job_restarts(const eddy_job *job);
const char *eddy_job_failure(const eddy_job *job);

/* For sources, operators and sinks. */
eddy_vm *eddy_job_vm(eddy_job *job);
struct ev_loop *eddy_job_loop(eddy_job *job);
eddy_clock *eddy_job_clock(eddy_job *job);
const char *eddy_job_name(const eddy_job *job);
const char *eddy_job_dir(const eddy_job *job);
/* --state-dir, or eddy-state/<job name> (relative to the working dir). */
const char *eddy_job_state_dir(const eddy_job *job);
/* --metrics HOST:PORT: eddy_job_run serves /metrics and /health there
 * (addr is copied; NULL: not). */
void eddy_job_set_metrics(eddy_job *job, const char *addr);
/* For metrics (observe.c): the running checkpointer (NULL while waiting
 * to restart) and the dead letters written. */
struct eddy_ckpt *eddy_job_ckpt(eddy_job *job);
unsigned long long eddy_job_dead_letters(const eddy_job *job);

/* Marks the job failed (first message wins) and stops it. */
void eddy_job_fail(eddy_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int eddy_job_failed(const eddy_job *job);
/* The failure at hand cannot be mended by a restart (stdout's reader went
 * away): the job ends with it, whatever the restart strategy says. */
void eddy_job_no_restart(eddy_job *job);
/* A signal (SIGINT, SIGTERM, SIGUSR1, SIGHUP) or a thread's news (a
 * checkpoint written) waits for the loop: a source delivering a run of
 * lines returns to it between two events. eddy_job_want_loop may be
 * called from any thread; the flag clears as the loop turns. */
void eddy_job_want_loop(void);
int eddy_job_loop_wanted(void);
/* A source (holder) stopped its turn early to let the loop answer (on),
 * or finished that turn (off): meanwhile the other sources wait, so that
 * sources take their turns in the same order as if nothing had come (a
 * union replays the same way). */
void eddy_job_hold_turn(eddy_job *job, const void *holder, int on);
/* 1 if another source than who holds the turn. */
int eddy_job_turn_held(const eddy_job *job, const void *who);
/* Asks the job to stop cleanly after the event in hand. */
void eddy_job_stop(eddy_job *job);
int eddy_job_stopping(const eddy_job *job);

/* Where the event being processed came from (set by sources). */
void eddy_job_set_origin(eddy_job *job, const char *source, uint64_t pos);
/* A timer call has no source: id (its key, kind and time hashed) tells it
 * from other timers when a failure repeats (poison pills). */
void eddy_job_set_timer_origin(eddy_job *job, uint64_t id);
void eddy_job_origin(const eddy_job *job, const char **source, uint64_t *pos);
/* The event time of the event in hand; returns 0 when it has none. */
int eddy_job_timestamp(const eddy_job *job, int64_t *ts);
void eddy_job_set_timestamp(eddy_job *job, int has, int64_t ts);

/* Error budget (max_error_ratio over error_window_ms): sources count
 * events, operators count skips and dead letters; past the budget the job
 * fails (and the restart strategy decides). */
void eddy_job_count_event(eddy_job *job);
void eddy_job_count_error(eddy_job *job);
/* Poison pills: the event in hand failed operator op and the job will
 * fail (recorded, to count the restarts it causes). */
void eddy_job_fail_event(eddy_job *job, const char *op);
/* Whether the event in hand already caused poison_after restarts by
 * failing op: returns that count (then it is a poison pill), else 0. */
int eddy_job_poisoned(eddy_job *job, const char *op);

/* Writes one dead letter: error, operator (may be NULL), the key at
 * key_idx and the event at ev_idx (0 for none), or raw text for input that
 * could not be decoded. Counted; a dead-letter sink failure fails the job.
 * [-0, +0, -] */
void eddy_job_dead_letter(eddy_job *job, const char *error, const char *op,
                          lua_State *L, int key_idx, int ev_idx,
                          const char *raw, size_t rawlen);
/* Checkpoints (checkpoint.c): the dead-letter file's committed length
 * into the record at rec, and back at recovery; its fd to make durable
 * (-1 if none). 0 or -1 with err. [-0, +0, m] */
int eddy_job_snapshot_extra(eddy_job *job, lua_State *L, int rec, char *err,
                            size_t errlen);
int eddy_job_restore_extra(eddy_job *job, lua_State *L, int rec, char *err,
                           size_t errlen);
int eddy_job_dlq_fd(eddy_job *job);
/* A source's watermark moved: the job's may have (checkpoints with
 * event_time_ms follow it). */
void eddy_job_watermark(eddy_job *job);
/* A source reached its end. */
void eddy_job_source_done(eddy_job *job);

#endif

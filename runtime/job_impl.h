/* job_impl.h - private to the job module (job.c, job_load.c,
 * job_errors.c): the job struct and what those files share. The rest of
 * the runtime sees eddy_job as opaque. */
#ifndef EDDY_JOB_IMPL_H
#define EDDY_JOB_IMPL_H

#include <ev.h>
#include <stdint.h>

#include "checkpoint.h"
#include "graph.h"
#include "job.h"
#include "observe.h"
#include "restart.h"
#include "sink.h"
#include "store.h"

#define BUDGET_SLOTS 10

/* An event that failed an operator, and how many restarts it caused. */
typedef struct poison {
    char *op, *src;
    uint64_t pos;
    int count;
} poison;

struct eddy_job {
    eddy_vm *vm;
    eddy_texts *texts; /* the scripts' texts: a restart replays them */
    struct ev_loop *loop;
    eddy_clock *clock;
    eddy_graph *graph;
    char *name, *dir, *state_dir, *dlq_path;
    eddy_sink *dlq;
    int dlq_failed, lock_fd;
    int dlq_restore; /* cut the dead letters back on open */
    uint64_t dlq_restore_len;
    eddy_store *store;
    eddy_ckpt *ckpt;
    int64_t interval_ms;   /* periodic checkpoints; 0: off */
    int64_t event_time_ms; /* checkpoints as the watermark crosses
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
    double max_error_ratio; /* 0: no budget */
    int64_t error_window_ms;
    int64_t slot_time[BUDGET_SLOTS];
    unsigned long long slot_events[BUDGET_SLOTS], slot_errors[BUDGET_SLOTS];
    int failed, stopping;
    int no_restart;          /* eddy_job_no_restart: the failure ends the job */
    const void *turn_holder; /* eddy_job_hold_turn */
    int busy;                /* the last eddy_job_turn left active watchers */
    char failure[8192];
    const char *origin_src;
    uint64_t origin_pos;
    uint64_t origin_id; /* a timer's identity, for poison pills */
    int has_ts;
    int64_t ts;
    unsigned long long dead_letters;
    ev_signal sigint, sigterm;
    ev_prepare flush;
    char *metrics_addr;
    eddy_obs *obs; /* metrics and status (kept across restarts) */
};

/* job.c: mkdir -p; 0 or -1 with errno. */
int eddy_job_mkdirs(const char *path);
/* job_load.c: runs the job file and builds the graph (and the dead-letter
 * sink it names). 0 or -1 with err naming file:line. */
int eddy_job_load_plan(eddy_job *job, const eddy_job_config *cfg, char *err,
                       size_t errlen);
/* job_errors.c: the event that failed the job caused one more restart
 * (poison pills count them); opens the dead-letter sink, cut back after a
 * recovery. */
void eddy_job_count_failure(eddy_job *job);
int eddy_job_dlq_open(eddy_job *job, char *err, size_t errlen);

#endif

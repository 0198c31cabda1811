/* checkpoint.h - checkpoints of a running job and recovery from them. */
#ifndef EDDY_CHECKPOINT_H
#define EDDY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "job.h"
#include "store.h"

typedef struct eddy_ckpt eddy_ckpt;

/* A checkpointer for the job's graph over store. interval_ms 0: no
 * periodic checkpoints (SIGUSR1 and the final one still happen);
 * event_time_ms 0: none driven by the watermark. */
eddy_ckpt *eddy_ckpt_new(eddy_job *job, eddy_graph *g, eddy_store *store,
                         int64_t interval_ms, int64_t event_time_ms);
/* The job's watermark is now wm: with event_time_ms set, a checkpoint
 * is taken each time it crosses a multiple of event_time_ms. */
void eddy_ckpt_watermark(eddy_ckpt *c, int64_t wm);
void eddy_ckpt_free(eddy_ckpt *c);

/* Recovery, before the graph starts: reads the last completed checkpoint
 * and rewinds sources, cuts sinks back and attaches the store to operator
 * state. A fresh store is stamped with the format. 0, or -1 with err
 * naming the state dir. */
int eddy_ckpt_recover(eddy_ckpt *c, const char *dir, char *err, size_t errlen);
/* Arms the periodic trigger on the job's loop. */
void eddy_ckpt_start(eddy_ckpt *c);
/* Asks for a checkpoint now ("interval", "signal", ...). If one is being
 * written, the request waits for it (never two at once). */
void eddy_ckpt_trigger(eddy_ckpt *c, const char *trigger);
/* A checkpoint now, written before returning (after any in flight):
 * 0, or -1 with err (logged and counted; the previous one stays). */
int eddy_ckpt_now(eddy_ckpt *c, const char *trigger, char *err, size_t errlen);
/* The final checkpoint at clean shutdown, written before returning:
 * 0, or -1 with err. */
int eddy_ckpt_final(eddy_ckpt *c, char *err, size_t errlen);
/* Id of the last completed checkpoint (0: none). */
uint64_t eddy_ckpt_last(const eddy_ckpt *c);
unsigned long eddy_ckpt_failures(const eddy_ckpt *c);
/* For metrics: what this checkpointer did (since it was made). */
typedef struct eddy_ckpt_stats {
    unsigned long completed, failed;
    int last_failed;          /* the latest attempt failed */
    int64_t last_time_ms;     /* processing time the last completed one
                                 was taken (also one recovered from); 0:
                                 none */
    int64_t last_duration_ms; /* of the last one completed here: start
                                 until durable */
    unsigned long long last_bytes, bytes_total;
} eddy_ckpt_stats;
void eddy_ckpt_get_stats(const eddy_ckpt *c, eddy_ckpt_stats *st);

/* Store keys of the checkpoint history (shared with `eddy checkpoints`):
 * 'c' + 8-byte big-endian id -> record; "mlast" -> 8-byte id of the last
 * completed checkpoint; "mformat" -> the state format. */
#define EDDY_STATE_FORMAT "eddy-state-1"

#endif

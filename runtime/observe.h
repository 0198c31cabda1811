/* observe.h - a running job seen from outside: the metrics endpoint
 * (/metrics, /health) and the live status line on a terminal. */
#ifndef EDDY_OBSERVE_H
#define EDDY_OBSERVE_H

#include <stddef.h>

#include "buf.h"
#include "job.h"
#include "jobstats.h"

typedef struct eddy_obs eddy_obs;

/* Observes job on its loop: serves HTTP on metrics_addr ("HOST:PORT"; NULL
 * for none) and draws a status line when stderr is a terminal. Made once
 * per process run; it outlives the job's restarts. NULL with err when the
 * address is bad or cannot be listened on. */
eddy_obs *eddy_obs_new(eddy_job *job, const char *metrics_addr, char *err,
                       size_t errlen);
void eddy_obs_free(eddy_obs *o);
/* The job failed and will restart: counts it by cause ("operator",
 * "error_budget", anything else counts as "other") and keeps why. */
void eddy_obs_restart(eddy_obs *o, const char *cause, const char *why);
/* The job is about to throw its graph and checkpointer away: keeps their
 * counters so that totals go on counting after the restart. */
void eddy_obs_fold(eddy_obs *o);
/* The job is ending: removes the status line. */
void eddy_obs_finish(eddy_obs *o);
/* The current picture (retained counters plus the running graph); keys:
 * also the keys in state (counted again when the last count is over a
 * second old and over 100 times its own cost old, else that count).
 * 0, or -1 when out of memory.
 * Free it with eddy_jobstats_free. */
int eddy_obs_sample(eddy_obs *o, eddy_jobstats *s, int keys);

#endif

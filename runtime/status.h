/* status.h - the live status line on a terminal. */
#ifndef EDDY_STATUS_H
#define EDDY_STATUS_H

#include <stddef.h>

#include "jobstats.h"

struct ev_loop;
typedef struct eddy_status eddy_status;

/* Fills s with the job's current snapshot (no key walk needed); 0 or -1. */
typedef int (*eddy_status_sample_fn)(void *ud, eddy_jobstats *s);

/* Redraws the status line on stderr EDDY_STATUS_HZ times a second from
 * the snapshots sample gives. The line is cleared before each log line and
 * drawn again after it (log.c). NULL when out of memory. */
#define EDDY_STATUS_HZ 4
eddy_status *eddy_status_new(struct ev_loop *loop, const char *job,
                             eddy_status_sample_fn sample, void *ud);
/* Stops and clears the line. */
void eddy_status_free(eddy_status *st);

/* The text of the line for snapshot s at rate events/s (rate < 0: not
 * known yet): e.g. "eddy wc | 12.3k ev/s | 1.20M events | lag 2.1s |
 * ckpt 42, 3.0s ago | 1 restart". */
void eddy_status_format(const eddy_jobstats *s, const char *job, double rate,
                        char *out, size_t n);

#endif

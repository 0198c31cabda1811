/* expose.h - a job's snapshot as Prometheus text (/metrics) and as JSON
 * (/health). */
#ifndef EDDY_EXPOSE_H
#define EDDY_EXPOSE_H

#include "buf.h"
#include "jobstats.h"

/* Everything in s as Prometheus text families named eddy_*; rejected:
 * HTTP requests the server refused. 0, or -1 when out of memory. */
int eddy_expose_metrics(const eddy_jobstats *s, const char *job,
                        unsigned long long rejected, eddy_buf *b);
/* The /health document. Returns the HTTP status to answer with (200; 503
 * while the job waits to restart), or -1 when out of memory. */
int eddy_expose_health(const eddy_jobstats *s, const char *job,
                       const char *last_failure, eddy_buf *b);
/* A JSON string literal for s (quotes, backslashes and control characters
 * escaped). 0 or -1. */
int eddy_expose_json_string(eddy_buf *b, const char *s);

#endif

/* metrics.h - writing the Prometheus text exposition format (0.0.4). */
#ifndef EDDY_METRICS_H
#define EDDY_METRICS_H

#include "buf.h"

#define EDDY_METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* Starts a family: its "# HELP" and "# TYPE" lines (type "counter" or
 * "gauge"). Its samples must follow before the next family. 0 or -1. */
int eddy_metrics_family(eddy_buf *b, const char *name, const char *type,
                        const char *help);
/* One sample line: name{k1="v1",k2="v2"} value. labels is NULL or a
 * NULL-terminated list of key, value, key, value...; values are escaped.
 * 0, or -1 when out of memory. */
int eddy_metrics_sample(eddy_buf *b, const char *name,
                        const char *const *labels, double v);
/* The same for a counter, exact beyond 2^53. */
int eddy_metrics_count(eddy_buf *b, const char *name, const char *const *labels,
                       unsigned long long v);
/* A label value as Prometheus escapes it: backslash, double quote and
 * newline become \\, \" and \n. */
int eddy_metrics_escape(eddy_buf *b, const char *s);
/* A number as Prometheus reads it: integral values without exponent or
 * point, NaN, +Inf, -Inf, else the shortest exact form. */
int eddy_metrics_number(eddy_buf *b, double v);

#endif

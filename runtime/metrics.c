/* metrics.c - the Prometheus text exposition format, written into a
 * buffer at scrape time (never on the event path).
 *
 * Invariant: every line written ends with '\n' and label values and help
 * texts are escaped, so a name from a job file (an operator called
 * `a"b\n`) cannot break the exposition. The caller owns the buffer. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int eddy_metrics_escape(eddy_buf *b, const char *s) {
    int rc = 0;
    for (; *s && rc == 0; s++) {
        if (*s == '\\')
            rc = eddy_buf_adds(b, "\\\\");
        else if (*s == '"')
            rc = eddy_buf_adds(b, "\\\"");
        else if (*s == '\n')
            rc = eddy_buf_adds(b, "\\n");
        else
            rc = eddy_buf_addc(b, *s);
    }
    return rc;
}

/* HELP text: backslash and newline escaped (quotes stay). */
static int escape_help(eddy_buf *b, const char *s) {
    int rc = 0;
    for (; *s && rc == 0; s++) {
        if (*s == '\\')
            rc = eddy_buf_adds(b, "\\\\");
        else if (*s == '\n')
            rc = eddy_buf_adds(b, "\\n");
        else
            rc = eddy_buf_addc(b, *s);
    }
    return rc;
}

int eddy_metrics_family(eddy_buf *b, const char *name, const char *type,
                        const char *help) {
    if (eddy_buf_addf(b, "# HELP %s ", name) != 0 || escape_help(b, help) != 0)
        return -1;
    return eddy_buf_addf(b, "\n# TYPE %s %s\n", name, type);
}

int eddy_metrics_number(eddy_buf *b, double v) {
    if (isnan(v)) return eddy_buf_adds(b, "NaN");
    if (isinf(v)) return eddy_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return eddy_buf_addf(b, "%.0f", v);
    char s[40];
    for (int prec = 6; prec <= 17; prec++) { /* shortest that reads back */
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) break;
    }
    return eddy_buf_adds(b, s);
}

static int labels_out(eddy_buf *b, const char *const *labels) {
    if (labels == NULL || labels[0] == NULL) return 0;
    int rc = eddy_buf_addc(b, '{');
    for (int i = 0; labels[i] && labels[i + 1] && rc == 0; i += 2) {
        if (i > 0) rc = eddy_buf_addc(b, ',');
        if (rc == 0) rc = eddy_buf_addf(b, "%s=\"", labels[i]);
        if (rc == 0) rc = eddy_metrics_escape(b, labels[i + 1]);
        if (rc == 0) rc = eddy_buf_addc(b, '"');
    }
    return rc == 0 ? eddy_buf_addc(b, '}') : -1;
}

int eddy_metrics_sample(eddy_buf *b, const char *name,
                        const char *const *labels, double v) {
    if (eddy_buf_adds(b, name) != 0 || labels_out(b, labels) != 0 ||
        eddy_buf_addc(b, ' ') != 0 || eddy_metrics_number(b, v) != 0)
        return -1;
    return eddy_buf_addc(b, '\n');
}

int eddy_metrics_count(eddy_buf *b, const char *name, const char *const *labels,
                       unsigned long long v) {
    if (eddy_buf_adds(b, name) != 0 || labels_out(b, labels) != 0) return -1;
    return eddy_buf_addf(b, " %llu\n", v);
}

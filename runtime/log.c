/* log.c - leveled logging to stderr, one line per message.
 * stdout belongs to stdout sinks and command output; logs never go there. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int threshold = EDDY_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

int eddy_log_level_of(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    if (strcmp(name, "warning") == 0) return EDDY_LOG_WARN;
    return -1;
}

int eddy_log_set_level(const char *name) {
    int l = eddy_log_level_of(name);
    if (l < 0) return -1;
    threshold = l;
    return 0;
}

int eddy_log_enabled(int level) { return level >= threshold; }

void eddy_log(int level, const char *fmt, ...) {
    if (level < threshold) return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "eddy %s: %s\n", names[level], line);
}

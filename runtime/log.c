/* log.c - leveled logging to stderr, one line per message.
 * stdout belongs to stdout sinks and command output; logs never go there.
 * On a terminal, stderr may also show a status line (status.c): it is
 * erased before each log line and drawn again after it, in one write, so
 * the two never interleave. The status text is owned here (a copy). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int threshold = EDDY_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};
static char status[512]; /* the status line shown, "" for none */

#define ERASE "\r\033[K"

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

int eddy_log_enabled(int level) {
    return level >= threshold;
}

void eddy_log(int level, const char *fmt, ...) {
    if (level < threshold) return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    flockfile(stderr);
    fprintf(stderr, "%seddy %s: %s\n%s", status[0] ? ERASE : "", names[level],
            line, status);
    funlockfile(stderr);
}

void eddy_log_status(const char *line) {
    flockfile(stderr);
    int shown = status[0] != '\0';
    snprintf(status, sizeof status, "%s", line ? line : "");
    fprintf(stderr, "%s%s", shown || status[0] ? ERASE : "", status);
    funlockfile(stderr);
}

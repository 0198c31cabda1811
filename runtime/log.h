/* log.h - leveled logging to stderr. */
#ifndef EDDY_LOG_H
#define EDDY_LOG_H

enum { EDDY_LOG_DEBUG, EDDY_LOG_INFO, EDDY_LOG_WARN, EDDY_LOG_ERROR };

/* Returns 0 and sets the threshold, or -1 for an unknown level name. */
int eddy_log_set_level(const char *name);
/* Level number for a name ("debug".."error"), or -1. */
int eddy_log_level_of(const char *name);
int eddy_log_enabled(int level);
void eddy_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The status line shown below the log on a terminal (NULL or "": none):
 * drawn now, erased before each log line and drawn again after it. */
void eddy_log_status(const char *line);

#define eddy_debug(...) eddy_log(EDDY_LOG_DEBUG, __VA_ARGS__)
#define eddy_info(...) eddy_log(EDDY_LOG_INFO, __VA_ARGS__)
#define eddy_warn(...) eddy_log(EDDY_LOG_WARN, __VA_ARGS__)
#define eddy_error(...) eddy_log(EDDY_LOG_ERROR, __VA_ARGS__)

#endif

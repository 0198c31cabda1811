/* restart.h - restart strategies: when a failed job may run again. */
#ifndef EDDY_RESTART_H
#define EDDY_RESTART_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eddy_restart eddy_restart;

/* From the job option restart = { strategy = ..., ... } at idx (nil: the
 * default, exponential-delay). NULL with err for an unknown strategy or a
 * bad parameter. [-0, +0, -] */
eddy_restart *eddy_restart_new(lua_State *L, int idx, char *err, size_t errlen);
void eddy_restart_free(eddy_restart *r);
/* The job failed at now_ms (processing time) after running since
 * started_ms: the delay in ms before restarting, or -1 when the strategy is
 * exhausted. */
int64_t eddy_restart_next(eddy_restart *r, int64_t now_ms, int64_t started_ms);
const char *eddy_restart_name(const eddy_restart *r);

#endif

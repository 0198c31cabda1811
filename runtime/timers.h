/* timers.h - the timers of one keyed operator. */
#ifndef EDDY_TIMERS_H
#define EDDY_TIMERS_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eddy_timers eddy_timers;

enum { EDDY_TIMER_PROCESSING, EDDY_TIMER_EVENT };

/* [-0, +0, m] */
eddy_timers *eddy_timers_new(lua_State *L);
void eddy_timers_free(eddy_timers *t, lua_State *L);

/* One timer per (key, kind, time): adding it again changes nothing.
 * key is a stack index. 0, or -1 when out of memory. [-0, +0, m] */
int eddy_timers_add(eddy_timers *t, lua_State *L, int kind, int64_t when,
                    int key);
void eddy_timers_cancel(eddy_timers *t, lua_State *L, int kind, int64_t when,
                        int key);
/* Drops every timer of the key. [-0, +0, m] */
void eddy_timers_clear_key(eddy_timers *t, lua_State *L, int key);
/* The earliest pending time of kind, or INT64_MAX. */
int64_t eddy_timers_next(const eddy_timers *t, int kind);
/* Takes the earliest time <= limit of kind that still has keys: pushes the
 * array of its keys in a fixed order (integers, then strings, each
 * ascending) and stores the time; returns 1. Else 0, nothing pushed.
 * [-0, +(0|1), m] */
int eddy_timers_pop(eddy_timers *t, lua_State *L, int kind, int64_t limit,
                    int64_t *when);
/* Pushes every pending timer as { processing = { [time] = {keys} },
 * event = {...} } for a checkpoint. [-0, +1, m] */
void eddy_timers_snapshot(eddy_timers *t, lua_State *L);
/* Adds the timers of a snapshot table at idx. [-0, +0, m] */
void eddy_timers_restore(eddy_timers *t, lua_State *L, int idx);
size_t eddy_timers_count(const eddy_timers *t);

#endif

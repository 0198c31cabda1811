/* clock.h - the one source of time in eddy, and alarms on it. */
#ifndef EDDY_CLOCK_H
#define EDDY_CLOCK_H

#include <stdint.h>

struct ev_loop;
typedef struct eddy_clock eddy_clock;
typedef struct eddy_alarm eddy_alarm;

/* Real time: wall-clock milliseconds as libev sees them (ev_now). */
eddy_clock *eddy_clock_new_real(struct ev_loop *loop);
/* Simulated time for the testing kit: starts at start_ms and moves only
 * through eddy_clock_set and eddy_clock_advance. */
eddy_clock *eddy_clock_new_sim(int64_t start_ms);
/* Frees the clock; its alarms must be freed first. */
void eddy_clock_free(eddy_clock *c);
int eddy_clock_is_sim(const eddy_clock *c);

/* Processing time in milliseconds since the epoch (or since 0, simulated). */
int64_t eddy_clock_now(const eddy_clock *c);
/* Moves a simulated clock to ms (never backwards) without firing alarms;
 * no effect on real time. */
void eddy_clock_set(eddy_clock *c, int64_t ms);
/* Simulated clocks: moves time forward to ms, firing every alarm due on
 * the way in time order (ties: the order the alarms were made); during a
 * callback the clock reads the alarm's time. Alarms already overdue fire
 * too, so advancing to now fires them. */
void eddy_clock_advance(eddy_clock *c, int64_t ms);

/* Simulated clocks: the time of the earliest alarm set that is not weak
 * (what would keep a loop running), or INT64_MAX. */
int64_t eddy_clock_next(const eddy_clock *c);

/* Monotonic real milliseconds, for durations and limits only. */
int64_t eddy_clock_mono_ms(void);

/* ---- alarms: call fn(data) once processing time reaches a set time ----
 * On a real clock an alarm is a libev timer on the clock's loop; on a
 * simulated one it fires from eddy_clock_advance. A weak alarm does not
 * keep the loop running by itself. NULL when out of memory. */
typedef void (*eddy_alarm_fn)(void *data);
eddy_alarm *eddy_alarm_new(eddy_clock *c, eddy_alarm_fn fn, void *data,
                           int weak);
/* Arms the alarm for processing time at_ms (replacing an earlier setting);
 * a time already past fires as soon as possible. */
void eddy_alarm_set(eddy_alarm *a, int64_t at_ms);
void eddy_alarm_cancel(eddy_alarm *a);
/* The time the alarm is set for, INT64_MAX when it is not. */
int64_t eddy_alarm_at(const eddy_alarm *a);
void eddy_alarm_free(eddy_alarm *a);

#endif

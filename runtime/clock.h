/* clock.h - the one source of time in eddy. */
#ifndef EDDY_CLOCK_H
#define EDDY_CLOCK_H

#include <stdint.h>

struct ev_loop;
typedef struct eddy_clock eddy_clock;

/* Real time: wall-clock milliseconds as libev sees them (ev_now). */
eddy_clock *eddy_clock_new_real(struct ev_loop *loop);
/* Simulated time for the testing kit: starts at start_ms and moves only
 * through eddy_clock_set. */
eddy_clock *eddy_clock_new_sim(int64_t start_ms);
void eddy_clock_free(eddy_clock *c);
int eddy_clock_is_sim(const eddy_clock *c);

/* Processing time in milliseconds since the epoch (or since 0, simulated). */
int64_t eddy_clock_now(const eddy_clock *c);
/* Moves a simulated clock to ms (never backwards); no effect on real time. */
void eddy_clock_set(eddy_clock *c, int64_t ms);

/* Monotonic real milliseconds, for durations and limits only. */
int64_t eddy_clock_mono_ms(void);

#endif

/* memio.h - in-memory inputs (feeds) and outputs (captures) for the
 * testing kit: a feed replaces a job's source, a capture its sink. Both
 * hold values as state-codec bytes, so they outlive the Lua states of the
 * job (a crash and restore keeps them) and carry values between the test's
 * Lua state and the job's without sharing a table. */
#ifndef EDDY_MEMIO_H
#define EDDY_MEMIO_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

/* Registry field of a job's vm: the key a test gave with the event in
 * hand (the operator harness keys by it). */
#define EDDY_TEST_KEY "eddy.testing.key"

typedef struct eddy_feed eddy_feed;
typedef struct eddy_capture eddy_capture;

/* A feed. A live feed never ends (the test pushes into it as it goes); a
 * fixed one ends after its last value, like a file. */
eddy_feed *eddy_feed_new(int live);
void eddy_feed_free(eddy_feed *f);
int eddy_feed_live(const eddy_feed *f);
/* Appends the value at idx, with the key at key (0: none) and an event
 * time (has_ts). 0, or -1 with err (a value the codec refuses).
 * [-0, +0, m] */
int eddy_feed_add(eddy_feed *f, lua_State *L, int idx, int key, int has_ts,
                  int64_t ts, char *err, size_t errlen);
/* Appends a raw line (bytes as a file would hold them, without the
 * newline): the source decodes it by its format. 0, or -1 (memory). */
int eddy_feed_add_raw(eddy_feed *f, const char *line, size_t len);
/* Whether value i is a raw line; then *line and *len give it. */
int eddy_feed_raw(const eddy_feed *f, size_t i, const char **line, size_t *len);
size_t eddy_feed_count(const eddy_feed *f);
/* Pushes value i (from 0) and its key (nil when none); *has_ts and *ts
 * say its event time. 0, or -1 with err and nothing pushed.
 * [-0, +(2|0), m] */
int eddy_feed_get(const eddy_feed *f, size_t i, lua_State *L, int *has_ts,
                  int64_t *ts, char *err, size_t errlen);
/* The reader of a feed (a memory source) registers how to deliver its
 * next value: step returns 1 when it delivered one, 0 when there is none
 * yet (or ever). NULL unbinds. */
typedef int (*eddy_feed_step_fn)(void *reader);
void eddy_feed_bind(eddy_feed *f, eddy_feed_step_fn step, void *reader);
/* Delivers the feed's next value through its reader: 1, or 0 when there
 * is no reader or nothing left. */
int eddy_feed_step(eddy_feed *f);

eddy_capture *eddy_capture_new(void);
void eddy_capture_free(eddy_capture *c);
/* Appends the value at idx, received on side (NULL: the main output).
 * 0, or -1 with err. [-0, +0, m] */
int eddy_capture_add(eddy_capture *c, lua_State *L, int idx, const char *side,
                     char *err, size_t errlen);
size_t eddy_capture_count(const eddy_capture *c);
/* Keeps the first n records (what a checkpoint committed). */
void eddy_capture_truncate(eddy_capture *c, size_t n);
/* Pushes record i (from 0); *side is its side (NULL: main). 0, or -1
 * with err and nothing pushed. [-0, +(1|0), m] */
int eddy_capture_get(const eddy_capture *c, size_t i, lua_State *L,
                     const char **side, char *err, size_t errlen);

#endif

/* harness_impl.h - private to the testing kit's C side (harness.c and
 * harness_io.c): the harness struct and what both files use. */
#ifndef EDDY_HARNESS_IMPL_H
#define EDDY_HARNESS_IMPL_H

#include <lauxlib.h>
#include <stdint.h>

#include "buf.h"
#include "job.h"
#include "memio.h"

#define HARNESS_MT "eddy.harness"

enum { H_NEW, H_RUNNING, H_ENDED, H_CRASHED };

typedef struct named_feed {
    char *name;
    eddy_feed *feed;
    int order; /* position of its source in the plan; 0: not in the job */
} named_feed;

typedef struct named_cap {
    char *name, *path;
    eddy_capture *cap;
} named_cap;

typedef struct harness {
    eddy_job *job;
    char *tmp, *job_file, *lua_dir, *state_dir;
    named_feed *feeds;
    int nfeeds;
    named_cap *caps;
    int ncaps, dlq; /* dlq: index of the dead letters' capture, or -1 */
    int phase, exit_code;
    int64_t now;      /* the clock, kept across a crash */
    eddy_buf scratch; /* values crossing between the two Lua states */
} harness;

/* The capture of a sink by name or by its path in the job file, or -1. */
int eddy_harness_cap(harness *h, const char *name);
/* The harness at argument 1. [-0, +0, v] */
harness *eddy_harness_check(lua_State *L);
/* The same, raising unless its job is running. [-0, +0, v] */
harness *eddy_harness_running(lua_State *L);
/* The same, also after the job ended (to read its state). [-0, +0, v] */
harness *eddy_harness_live(lua_State *L);
/* After a step: when the job failed for good (running is 0), ends it and
 * raises its failure. [-0, +0, v] */
void eddy_harness_settle(lua_State *L, harness *h, int running);

/* harness_io.c: the methods that move events, time and checkpoints;
 * harness_read.c: those that read outputs, state and counters back. */
extern const luaL_Reg eddy_harness_io_methods[];
extern const luaL_Reg eddy_harness_read_methods[];

#endif

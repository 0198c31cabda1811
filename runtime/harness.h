/* harness.h - the testing kit's C side: core.harness{...} runs a real job
 * with a simulated clock, in-memory inputs and outputs, step by step. */
#ifndef EDDY_HARNESS_H
#define EDDY_HARNESS_H

#include <lua.h>

/* Adds harness and test_key to the eddy.core table at the top.
 * [-0, +0, m] */
void eddy_harness_register(lua_State *L);

#endif

/* inspect.h - reading a state dir: `eddy state` and `eddy checkpoints`. */
#ifndef EDDY_INSPECT_H
#define EDDY_INSPECT_H

#include <stddef.h>
#include <stdio.h>

/* Prints the checkpointed state as NDJSON, one line per key:
 * {"operator":..,"key":..,"state":..} (key null for operator-wide
 * state); op and key (NULL: all) filter. 0, or -1 with err. */
int eddy_inspect_state(const char *dir, const char *op, const char *key,
                       FILE *out, char *err, size_t errlen);
/* Prints the checkpoint history as NDJSON, oldest first. */
int eddy_inspect_checkpoints(const char *dir, FILE *out, char *err,
                             size_t errlen);

#endif

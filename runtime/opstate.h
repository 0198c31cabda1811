/* opstate.h - the per-key state of one keyed operator. */
#ifndef EDDY_OPSTATE_H
#define EDDY_OPSTATE_H

#include <lua.h>
#include <stddef.h>

#include "store.h"

typedef struct eddy_opstate eddy_opstate;

/* Empty state for operator name (the name prefixes its store keys).
 * [-0, +0, m] */
eddy_opstate *eddy_opstate_new(lua_State *L, const char *name);
void eddy_opstate_free(eddy_opstate *s, lua_State *L);
/* Keys not in memory are read from store (the last checkpoint) on first
 * use: state is rehydrated lazily, so recovery time does not grow with the
 * number of keys. */
void eddy_opstate_set_store(eddy_opstate *s, eddy_store *store);

/* A key in memory but not hot (unchanged since the last checkpoint) with
 * a state: moves it to hot, as fetch would, pushes its state and returns
 * 1; else returns 0, nothing pushed. Never reads the store.
 * [-0, +(0|1), m] */
int eddy_opstate_promote(eddy_opstate *s, lua_State *L, int key);
/* Pushes the hot table (key -> state, or false for a deleted key) for a
 * direct lookup. It is replaced at each checkpoint: push it per use, do
 * not keep it. [-0, +1, -] */
void eddy_opstate_push_hot(eddy_opstate *s, lua_State *L);
/* Pushes the key's state, from memory or the store, or a new empty table,
 * and marks the key changed. Raises on an unreadable stored state.
 * [-0, +1, e] */
void eddy_opstate_fetch(eddy_opstate *s, lua_State *L, int key);
/* The same without raising: 0 with the state pushed, or -1 with nothing
 * pushed and the message fetch would raise in err (an unreadable stored
 * state). [-0, +(0|1), m] */
int eddy_opstate_get(eddy_opstate *s, lua_State *L, int key, char *err,
                     size_t errlen);
/* Sets the key's state to the value at the top and pops it; nil or false
 * deletes the key. [-1, +0, m] */
void eddy_opstate_put(eddy_opstate *s, lua_State *L, int key);
/* Pushes the key's state without marking it changed (nil when it has
 * none): for tests and inspection. 0, or -1 with err. [-0, +1, m] */
int eddy_opstate_peek(eddy_opstate *s, lua_State *L, int key, char *err,
                      size_t errlen);

/* Checkpoint: writes every key changed since the last checkpoint into b
 * (deletions as tombstones; an empty table is a deletion), then sets those
 * keys aside until eddy_opstate_commit or _rollback. On an unencodable
 * state returns -1 with "name: key "k": state.path: reason" and changes
 * nothing. *nkeys counts the keys written. [-0, +0, m] */
int eddy_opstate_snapshot(eddy_opstate *s, lua_State *L, eddy_batch *b,
                          size_t *nkeys, char *err, size_t errlen);
/* The checkpoint holding the snapshot is durable. [-0, +0, -] */
void eddy_opstate_commit(eddy_opstate *s, lua_State *L);
/* It failed: the snapshot's keys count as changed again. [-0, +0, m] */
void eddy_opstate_rollback(eddy_opstate *s, lua_State *L);
/* Reads every key's state from the store into memory (a migration must
 * see them all). 0, or -1 with err. [-0, +0, m] */
int eddy_opstate_load_all(eddy_opstate *s, lua_State *L, char *err,
                          size_t errlen);
/* Pushes an array of every key in memory that has state. [-0, +1, m] */
void eddy_opstate_push_keys(eddy_opstate *s, lua_State *L);
/* Keys held in memory (for metrics and tests). */
size_t eddy_opstate_count(eddy_opstate *s, lua_State *L);

/* Store key layout, shared with the commands that read a state dir:
 * 's' name '\0' key-bytes for keyed state, 'o' name for operator-wide
 * state. */
#define EDDY_KEY_STATE 's'
#define EDDY_KEY_OPSTATE 'o'
#define EDDY_KEY_TIMERS 't' /* 't' name: an operator's pending timers */

#endif

/* node.h - vertices of the dataflow graph and the edges between them. */
#ifndef EDDY_NODE_H
#define EDDY_NODE_H

#include <lua.h>
#include <stdint.h>

typedef struct eddy_node eddy_node;

/* Receives the event at stack index ev (absolute); must leave the stack as
 * it found it. */
typedef void (*eddy_push_fn)(void *self, lua_State *L, int ev);

/* A node named name (copied). push may be NULL for nodes that only emit
 * (sources). self is handed back to push. */
eddy_node *eddy_node_new(const char *name, eddy_push_fn push, void *self);
void eddy_node_free(eddy_node *n);
const char *eddy_node_name(const eddy_node *n);
void *eddy_node_self(const eddy_node *n);

/* A node that reads a wildcard side ("*": every side output nothing else
 * reads) gets the side's name with each event when it sets this. */
typedef void (*eddy_side_push_fn)(void *self, lua_State *L, int ev,
                                  const char *side);
void eddy_node_set_side_push(eddy_node *n, eddy_side_push_fn fn);

/* Routes from's output side (NULL: main output) to to. 0 or -1 (memory). */
int eddy_node_connect(eddy_node *from, const char *side, eddy_node *to);
/* Whether anything reads from's side output (NULL: main), a wildcard
 * reader included. */
int eddy_node_has_readers(const eddy_node *from, const char *side);

/* Hands the event at stack index ev to every node connected to from's
 * side (NULL: main), depth first, in connection order. [-0, +0, -] */
void eddy_node_emit(eddy_node *from, lua_State *L, int ev, const char *side);
/* ---- watermarks ----
 * A node's watermark is the minimum over its inputs' (sources set theirs);
 * it never goes back. EDDY_WM_MIN: none yet; EDDY_WM_MAX: input ended. */
#define EDDY_WM_MIN INT64_MIN
#define EDDY_WM_MAX INT64_MAX
typedef void (*eddy_wm_fn)(void *self, int64_t wm);
/* Called after the node's watermark advanced (operators fire timers). */
void eddy_node_on_watermark(eddy_node *n, eddy_wm_fn fn);
int64_t eddy_node_watermark(const eddy_node *n);
/* Sources: sets the node's watermark to wm if that is later, and carries
 * the change down the graph. */
void eddy_node_advance(eddy_node *n, int64_t wm);
/* An idle node does not hold its readers' watermarks back. */
void eddy_node_set_idle(eddy_node *n, int idle);
int eddy_node_idle(const eddy_node *n);

/* Events emitted so far on all sides. */
unsigned long long eddy_node_emitted(const eddy_node *n);

#endif

/* node.c - dataflow vertices and edges.
 *
 * A node is what operators, sources and sinks share: a name, an input
 * (push) and outgoing edges grouped by side output. Emission is a direct
 * call into each target, depth first, so an event travels the whole chain
 * before the source reads the next one (no queues, no copies: the event
 * stays on the Lua stack). A node owns its edge arrays, not its targets. */
#include "node.h"

#include <stdlib.h>
#include <string.h>

typedef struct edge {
    char *side; /* NULL: main output */
    eddy_node *to;
} edge;

struct eddy_node {
    char *name;
    eddy_push_fn push;
    eddy_side_push_fn side_push;
    void *self;
    edge *main; /* main-output targets, contiguous for speed */
    int nmain;
    edge *sides;
    int nsides;
    unsigned long long emitted;
    int64_t wm;
    int idle;
    eddy_wm_fn on_wm;
    eddy_node **inputs; /* nodes with an edge to this one */
    int ninputs;
};

eddy_node *eddy_node_new(const char *name, eddy_push_fn push, void *self) {
    eddy_node *n = calloc(1, sizeof *n);
    if (n == NULL) return NULL;
    n->name = strdup(name);
    if (n->name == NULL) {
        free(n);
        return NULL;
    }
    n->push = push;
    n->self = self;
    n->wm = EDDY_WM_MIN;
    return n;
}

void eddy_node_free(eddy_node *n) {
    if (n == NULL) return;
    for (int i = 0; i < n->nsides; i++) free(n->sides[i].side);
    free(n->sides);
    free(n->main);
    free(n->inputs);
    free(n->name);
    free(n);
}

const char *eddy_node_name(const eddy_node *n) {
    return n->name;
}
void eddy_node_set_side_push(eddy_node *n, eddy_side_push_fn fn) {
    n->side_push = fn;
}
void *eddy_node_self(const eddy_node *n) {
    return n->self;
}
unsigned long long eddy_node_emitted(const eddy_node *n) {
    return n->emitted;
}

static int add_edge(edge **arr, int *count, const char *side, eddy_node *to) {
    edge *a = realloc(*arr, (size_t)(*count + 1) * sizeof *a);
    if (a == NULL) return -1;
    *arr = a;
    a[*count].side = NULL;
    if (side != NULL && (a[*count].side = strdup(side)) == NULL) return -1;
    a[*count].to = to;
    (*count)++;
    return 0;
}

int eddy_node_connect(eddy_node *from, const char *side, eddy_node *to) {
    eddy_node **in =
        realloc(to->inputs, (size_t)(to->ninputs + 1) * sizeof *in);
    if (in == NULL) return -1;
    to->inputs = in;
    in[to->ninputs++] = from;
    if (side == NULL) return add_edge(&from->main, &from->nmain, NULL, to);
    return add_edge(&from->sides, &from->nsides, side, to);
}

void eddy_node_on_watermark(eddy_node *n, eddy_wm_fn fn) {
    n->on_wm = fn;
}
int64_t eddy_node_watermark(const eddy_node *n) {
    return n->wm;
}

static void propagate(eddy_node *n);

/* Recomputes to's watermark from its inputs; carries an advance on. */
static void recompute(eddy_node *to) {
    int64_t m = EDDY_WM_MAX;
    int live = 0;
    for (int i = 0; i < to->ninputs; i++) {
        if (to->inputs[i]->idle) continue;
        live = 1;
        if (to->inputs[i]->wm < m) m = to->inputs[i]->wm;
    }
    if (!live || m <= to->wm) return;
    to->wm = m;
    if (to->on_wm) to->on_wm(to->self, m);
    propagate(to);
}

static void propagate(eddy_node *n) {
    for (int i = 0; i < n->nmain; i++) recompute(n->main[i].to);
    for (int i = 0; i < n->nsides; i++) recompute(n->sides[i].to);
}

void eddy_node_advance(eddy_node *n, int64_t wm) {
    if (wm <= n->wm && !n->idle) return;
    n->idle = 0;
    if (wm > n->wm) n->wm = wm;
    propagate(n);
}

void eddy_node_set_idle(eddy_node *n, int idle) {
    if (n->idle == idle) return;
    n->idle = idle;
    if (idle) propagate(n);
}

int eddy_node_has_readers(const eddy_node *from, const char *side) {
    if (side == NULL) return from->nmain > 0;
    for (int i = 0; i < from->nsides; i++)
        if (strcmp(from->sides[i].side, side) == 0 ||
            strcmp(from->sides[i].side, "*") == 0)
            return 1;
    return 0;
}

/* Hands an event on side to the wildcard readers: none read that side. */
static void emit_wildcard(eddy_node *from, lua_State *L, int ev,
                          const char *side) {
    for (int i = 0; i < from->nsides; i++) {
        eddy_node *to = from->sides[i].to;
        if (strcmp(from->sides[i].side, "*") != 0) continue;
        if (to->side_push)
            to->side_push(to->self, L, ev, side);
        else
            to->push(to->self, L, ev);
    }
}

void eddy_node_emit(eddy_node *from, lua_State *L, int ev, const char *side) {
    from->emitted++;
    if (side == NULL) {
        for (int i = 0; i < from->nmain; i++) {
            eddy_node *to = from->main[i].to;
            to->push(to->self, L, ev);
        }
        return;
    }
    int read = 0;
    for (int i = 0; i < from->nsides; i++) {
        if (strcmp(from->sides[i].side, side) == 0) {
            eddy_node *to = from->sides[i].to;
            to->push(to->self, L, ev);
            read = 1;
        }
    }
    if (!read) emit_wildcard(from, L, ev, side);
}

int eddy_node_idle(const eddy_node *n) {
    return n->idle;
}

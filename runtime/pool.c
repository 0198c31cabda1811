/* pool.c - a small-block allocator for the Lua heap.
 *
 * A stream job allocates and frees a few small blocks per event (the event
 * table and its node array, output tables, strings) next to long-lived
 * ones (per-key state). Serving blocks up to EDDY_POOL_MAX bytes from
 * per-size-class free lists (8-byte classes) costs a few instructions
 * instead of a trip through malloc and free, and keeps same-sized objects
 * together. Blocks are cut from 2 MiB slabs, each mapped at a 2 MiB
 * boundary and marked for transparent huge pages (MADV_HUGEPAGE): where
 * the kernel grants one, a job's small objects (per-key state tables,
 * strings, event tables) sit under one TLB entry instead of 512. A freed
 * block goes back on its class's list (linked through its first word) and
 * is never returned to the system before eddy_pool_free.
 *
 * Invariant: a block on free[c] is (c + 1) * GRAIN bytes, inside a slab of
 * this pool. The pool owns its slabs; it is not thread-safe (one Lua
 * state, one loop thread). */
#include "pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "pool_impl.h"

#define GRAIN EDDY_POOL_GRAIN
#define SLAB (2 * 1024 * 1024) /* a huge page on x86-64 and arm64 */

typedef struct eddy_slab {
    struct eddy_slab *next;
} slab;

eddy_pool *eddy_pool_new(void) {
    return calloc(1, sizeof(eddy_pool));
}

void eddy_pool_free(eddy_pool *p) {
    if (p == NULL) return;
    while (p->slabs) {
        slab *s = p->slabs;
        p->slabs = s->next;
        munmap(s, SLAB);
    }
    free(p);
}

int eddy_pool_same(size_t a, size_t b) {
    return eddy_pool_class(a) == eddy_pool_class(b);
}

/* Maps SLAB bytes at a SLAB boundary (a huge page can only back an aligned
 * range): maps twice that and unmaps the ends. NULL when out of memory. */
static void *map_slab(void) {
    char *m = mmap(NULL, 2 * SLAB, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    size_t head = (SLAB - (uintptr_t)m % SLAB) % SLAB;
    if (head > 0) munmap(m, head);
    munmap(m + head + SLAB, SLAB - head);
#ifdef MADV_HUGEPAGE
    madvise(m + head, SLAB, MADV_HUGEPAGE); /* advice: failure is harmless */
#endif
    return m + head;
}

/* Starts a new slab (the old one's tail, under EDDY_POOL_MAX, is left). */
static int new_slab(eddy_pool *p) {
    slab *s = map_slab();
    if (s == NULL) return -1;
    s->next = p->slabs;
    p->slabs = s;
    p->bump = (char *)s + GRAIN; /* the header, padded to keep alignment */
    p->bump_end = (char *)s + SLAB;
    return 0;
}

void *eddy_pool_take_slow(eddy_pool *p, size_t n) {
    if (new_slab(p) != 0) return NULL;
    return eddy_pool_take(p, n);
}

void *eddy_pool_alloc(eddy_pool *p, size_t n) {
    return eddy_pool_take(p, n);
}

void eddy_pool_release(eddy_pool *p, void *block, size_t n) {
    eddy_pool_give(p, block, n);
}

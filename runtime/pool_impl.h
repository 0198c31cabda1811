/* pool_impl.h - the pool's layout and its two fast paths, for pool.c and
 * the Lua allocator in vm.c only: a block taken from or given back to a
 * free list costs a few instructions there, without a call. */
#ifndef EDDY_POOL_IMPL_H
#define EDDY_POOL_IMPL_H

#include "pool.h"

#define EDDY_POOL_NCLASS (EDDY_POOL_MAX / EDDY_POOL_GRAIN)

struct eddy_pool {
    void *free[EDDY_POOL_NCLASS]; /* per class: freed blocks */
    char *bump, *bump_end;        /* the newest slab's unused part */
    struct eddy_slab *slabs;      /* every slab, for eddy_pool_free */
};

/* The size class of an n-byte block (1 <= n <= EDDY_POOL_MAX). */
static inline size_t eddy_pool_class(size_t n) {
    return (n - 1) / EDDY_POOL_GRAIN;
}

/* The slow path of eddy_pool_take: the block comes from a new slab. */
void *eddy_pool_take_slow(eddy_pool *p, size_t n);

/* The same as eddy_pool_alloc and eddy_pool_release, inline. */
static inline void *eddy_pool_take(eddy_pool *p, size_t n) {
    size_t c = eddy_pool_class(n), size = (c + 1) * EDDY_POOL_GRAIN;
    void *b = p->free[c];
    if (b != NULL) {
        p->free[c] = *(void **)b;
        return b;
    }
    if ((size_t)(p->bump_end - p->bump) < size)
        return eddy_pool_take_slow(p, n);
    b = p->bump;
    p->bump += size;
    return b;
}

static inline void eddy_pool_give(eddy_pool *p, void *block, size_t n) {
    size_t c = eddy_pool_class(n);
    *(void **)block = p->free[c];
    p->free[c] = block;
}

#endif

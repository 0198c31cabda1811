/* pool.h - a small-block allocator for the Lua heap. */
#ifndef EDDY_POOL_H
#define EDDY_POOL_H

#include <stddef.h>

/* Blocks up to this size come from the pool; larger ones from malloc. */
#define EDDY_POOL_MAX 256
/* Every block's alignment, and the width of a size class: 8 bytes, what Lua
 * asks of its allocator (LUAI_MAXALIGN). Not 16, as malloc gives: a table
 * (56 bytes) and a one-slot node array (24) take 80 bytes, not 96, and more
 * of a job's state stays in the cache. */
#define EDDY_POOL_GRAIN 8

typedef struct eddy_pool eddy_pool;

/* An empty pool, or NULL when out of memory. */
eddy_pool *eddy_pool_new(void);
/* Frees every slab: all blocks handed out become invalid. */
void eddy_pool_free(eddy_pool *p);
/* A block of n bytes (1 <= n <= EDDY_POOL_MAX, EDDY_POOL_GRAIN-aligned), or
 * NULL when out of memory. */
void *eddy_pool_alloc(eddy_pool *p, size_t n);
/* Gives back a block that eddy_pool_alloc returned for the same n. */
void eddy_pool_release(eddy_pool *p, void *block, size_t n);
/* Whether blocks of sizes a and b are interchangeable (same size class). */
int eddy_pool_same(size_t a, size_t b);

#endif

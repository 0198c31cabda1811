/* store.h - the durable key-value store under a state dir (LevelDB). */
#ifndef EDDY_STORE_H
#define EDDY_STORE_H

#include <stddef.h>

#include "buf.h"

typedef struct eddy_store eddy_store;
typedef struct eddy_batch eddy_batch;
typedef struct eddy_iter eddy_iter;

/* Opens the store in dir/db. With create set a missing store is created;
 * without it a missing store (no dir/db/CURRENT) is an error and nothing is
 * created on disk. NULL with err naming dir ("no eddy state in DIR",
 * locked by another process, corrupted, or LevelDB's own error). */
eddy_store *eddy_store_open(const char *dir, int create, char *err,
                            size_t errlen);
void eddy_store_close(eddy_store *s);
/* At clean shutdown, after the last checkpoint: lets LevelDB write its
 * memory table out before close, so the next open is fast. */
void eddy_store_settle(eddy_store *s);

/* Reads key k into out (replacing its contents): 1 found, 0 not found,
 * -1 error (err). Safe to call while another thread writes. */
int eddy_store_get(eddy_store *s, const char *k, size_t kn, eddy_buf *out,
                   char *err, size_t errlen);

/* A write batch: applied all or nothing by eddy_store_write. */
eddy_batch *eddy_batch_new(void);
void eddy_batch_free(eddy_batch *b);
void eddy_batch_put(eddy_batch *b, const char *k, size_t kn, const char *v,
                    size_t vn);
void eddy_batch_delete(eddy_batch *b, const char *k, size_t kn);
/* Bytes of keys and values put so far. */
size_t eddy_batch_bytes(const eddy_batch *b);
size_t eddy_batch_count(const eddy_batch *b);
/* Applies b atomically (synced to disk when sync is set): 0 or -1 (err).
 * Safe to call from a thread other than the readers'. */
int eddy_store_write(eddy_store *s, eddy_batch *b, int sync, char *err,
                     size_t errlen);

/* Iterates the keys starting with prefix, in key order. */
eddy_iter *eddy_store_iter(eddy_store *s, const char *prefix, size_t pn);
/* Next entry: 1 with pointers valid until the next call, or 0 at the end. */
int eddy_iter_next(eddy_iter *it, const char **k, size_t *kn, const char **v,
                   size_t *vn);
void eddy_iter_free(eddy_iter *it);

#endif

/* store.c - LevelDB under a state dir; the only module that includes it.
 *
 * One database per state dir (dir/db), locked by LevelDB's own LOCK file so
 * a second process gets a clear error (only a real lock conflict is reported
 * as one). Opening without create never creates a database: a dir without
 * dir/db/CURRENT is refused before LevelDB sees it (LevelDB would make
 * dir/db). Every LevelDB error string is copied into the caller's buffer and
 * freed at once. Writes are batches applied atomically; a checkpoint is
 * exactly one synced batch. For tests, the environment variable
 * EDDY_FAULT_STORE_WRITES=N makes the N-th write fail (N- : the N-th and all
 * later ones) as a full disk would, so the failure path runs the real code.
 * The store owns its LevelDB handles. */
#include "store.h"

#include <errno.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct eddy_store {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_filterpolicy_t *bloom;
    leveldb_readoptions_t *ropts;
    leveldb_writeoptions_t *wsync, *wnosync;
    long writes;      /* writes attempted so far */
    long fault_at;    /* 0: no fault injection */
    int fault_sticky; /* fail every write from fault_at on */
};

struct eddy_batch {
    leveldb_writebatch_t *wb;
    size_t bytes, count;
};

struct eddy_iter {
    leveldb_iterator_t *it;
    leveldb_readoptions_t *ropts;
    char *prefix;
    size_t pn;
    int started;
};

/* Copies a LevelDB error into err and frees it. */
static void take_err(char **lerr, const char *what, char *err, size_t n) {
    snprintf(err, n, "%s: %s", what, *lerr ? *lerr : "unknown error");
    leveldb_free(*lerr);
    *lerr = NULL;
}

static void store_free(eddy_store *s) {
    if (s->db) leveldb_close(s->db);
    if (s->opts) leveldb_options_destroy(s->opts);
    if (s->bloom) leveldb_filterpolicy_destroy(s->bloom);
    if (s->ropts) leveldb_readoptions_destroy(s->ropts);
    if (s->wsync) leveldb_writeoptions_destroy(s->wsync);
    if (s->wnosync) leveldb_writeoptions_destroy(s->wnosync);
    free(s);
}

/* 1 when s starts with prefix and ends with suffix. */
static int framed(const char *s, const char *prefix, const char *suffix) {
    size_t n = strlen(s), pn = strlen(prefix), sn = strlen(suffix);
    return n >= pn + sn && strncmp(s, prefix, pn) == 0 &&
           strcmp(s + n - sn, suffix) == 0;
}

/* 1 when LevelDB failed to lock db/LOCK because someone holds it: its
 * message is "IO error: lock <path>/LOCK: <strerror>" from fcntl (EAGAIN or
 * EACCES), or "... : already held by process". Matched on the whole frame,
 * since the path itself may contain anything (and always holds "LOCK"). */
static int lock_conflict(const char *lerr) {
    return framed(lerr, "IO error: lock ",
                  ": Resource temporarily unavailable") ||
           framed(lerr, "IO error: lock ", ": Permission denied") ||
           framed(lerr, "IO error: lock ", ": already held by process");
}

/* Rewrites LevelDB's open errors as what a user should do about them. */
static void open_error(const char *dir, const char *lerr, char *err, size_t n) {
    if (lock_conflict(lerr))
        snprintf(err, n, "state dir %s is locked by another eddy process (%s)",
                 dir, lerr);
    else if (strncmp(lerr, "NotFound: ", 10) == 0 ||
             framed(lerr, "Invalid argument: ",
                    "does not exist (create_if_missing is false)"))
        snprintf(err, n, "no eddy state in %s (%s)", dir, lerr);
    else if (strncmp(lerr, "Corruption: ", 12) == 0)
        snprintf(err, n,
                 "state dir %s cannot be opened, it may be corrupted; "
                 "nothing was changed (%s)",
                 dir, lerr);
    else
        snprintf(err, n, "state dir %s cannot be opened (%s)", dir, lerr);
}

/* Without create: 0 when dir holds a database (dir/db/CURRENT), else -1
 * with err, so that opening creates nothing (LevelDB would make dir/db). */
static int check_exists(const char *dir, char *err, size_t n) {
    char cur[4096];
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(err, n, "no eddy state in %s (%s)", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, n, "no eddy state in %s (not a directory)", dir);
        return -1;
    }
    snprintf(cur, sizeof cur, "%s/db/CURRENT", dir);
    if (stat(cur, &st) != 0) {
        snprintf(err, n, "no eddy state in %s (%s: %s)", dir, cur,
                 strerror(errno));
        return -1;
    }
    return 0;
}

eddy_store *eddy_store_open(const char *dir, int create, char *err,
                            size_t errlen) {
    if (!create && check_exists(dir, err, errlen) != 0) return NULL;
    eddy_store *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/db", dir);
    s->opts = leveldb_options_create();
    s->bloom = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_create_if_missing(s->opts, create);
    leveldb_options_set_filter_policy(s->opts, s->bloom);
    leveldb_options_set_write_buffer_size(s->opts, 4 << 20);
    leveldb_options_set_paranoid_checks(s->opts,
                                        1); /* corruption is an error */
    s->ropts = leveldb_readoptions_create();
    s->wsync = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(s->wsync, 1);
    s->wnosync = leveldb_writeoptions_create();
    const char *fault = getenv("EDDY_FAULT_STORE_WRITES");
    if (fault) {
        s->fault_at = atol(fault);
        s->fault_sticky = strchr(fault, '-') != NULL;
    }
    char *lerr = NULL;
    s->db = leveldb_open(s->opts, path, &lerr);
    if (lerr != NULL) {
        open_error(dir, lerr, err, errlen);
        leveldb_free(lerr);
        store_free(s);
        return NULL;
    }
    return s;
}

void eddy_store_settle(eddy_store *s) {
    /* Compacting an empty key range first writes the memory table out to a
     * table file and waits for it: the next open then does not replay a
     * big last checkpoint from LevelDB's log. No eddy key sorts before
     * "\x01", so nothing else is rewritten. */
    leveldb_compact_range(s->db, NULL, 0, "\x01", 1);
}

void eddy_store_close(eddy_store *s) {
    if (s) store_free(s);
}

int eddy_store_get(eddy_store *s, const char *k, size_t kn, eddy_buf *out,
                   char *err, size_t errlen) {
    char *lerr = NULL;
    size_t vn = 0;
    char *v = leveldb_get(s->db, s->ropts, k, kn, &vn, &lerr);
    if (lerr != NULL) {
        take_err(&lerr, "state read failed", err, errlen);
        return -1;
    }
    if (v == NULL) return 0;
    eddy_buf_reset(out);
    int rc = eddy_buf_add(out, v, vn);
    leveldb_free(v);
    if (rc != 0) snprintf(err, errlen, "out of memory");
    return rc == 0 ? 1 : -1;
}

eddy_batch *eddy_batch_new(void) {
    eddy_batch *b = calloc(1, sizeof *b);
    if (b) b->wb = leveldb_writebatch_create();
    return b;
}

void eddy_batch_free(eddy_batch *b) {
    if (b == NULL) return;
    leveldb_writebatch_destroy(b->wb);
    free(b);
}

void eddy_batch_put(eddy_batch *b, const char *k, size_t kn, const char *v,
                    size_t vn) {
    leveldb_writebatch_put(b->wb, k, kn, v, vn);
    b->bytes += kn + vn;
    b->count++;
}

void eddy_batch_delete(eddy_batch *b, const char *k, size_t kn) {
    leveldb_writebatch_delete(b->wb, k, kn);
    b->bytes += kn;
    b->count++;
}

size_t eddy_batch_bytes(const eddy_batch *b) {
    return b->bytes;
}
size_t eddy_batch_count(const eddy_batch *b) {
    return b->count;
}

int eddy_store_write(eddy_store *s, eddy_batch *b, int sync, char *err,
                     size_t errlen) {
    s->writes++;
    if (s->fault_at > 0 && (s->writes == s->fault_at ||
                            (s->fault_sticky && s->writes > s->fault_at))) {
        snprintf(err, errlen,
                 "state write failed: IO error: No space left "
                 "on device (injected by EDDY_FAULT_STORE_WRITES)");
        return -1;
    }
    char *lerr = NULL;
    leveldb_write(s->db, sync ? s->wsync : s->wnosync, b->wb, &lerr);
    if (lerr != NULL) {
        take_err(&lerr, "state write failed", err, errlen);
        return -1;
    }
    return 0;
}

eddy_iter *eddy_store_iter(eddy_store *s, const char *prefix, size_t pn) {
    eddy_iter *it = calloc(1, sizeof *it);
    if (it == NULL) return NULL;
    it->ropts = leveldb_readoptions_create();
    leveldb_readoptions_set_fill_cache(it->ropts, 0);
    it->it = leveldb_create_iterator(s->db, it->ropts);
    it->prefix = malloc(pn + 1);
    if (it->prefix) memcpy(it->prefix, prefix, pn);
    it->pn = pn;
    return it;
}

int eddy_iter_next(eddy_iter *it, const char **k, size_t *kn, const char **v,
                   size_t *vn) {
    if (it->prefix == NULL) return 0;
    if (!it->started) {
        leveldb_iter_seek(it->it, it->prefix, it->pn);
        it->started = 1;
    } else {
        leveldb_iter_next(it->it);
    }
    if (!leveldb_iter_valid(it->it)) return 0;
    *k = leveldb_iter_key(it->it, kn);
    if (*kn < it->pn || memcmp(*k, it->prefix, it->pn) != 0) return 0;
    *v = leveldb_iter_value(it->it, vn);
    return 1;
}

void eddy_iter_free(eddy_iter *it) {
    if (it == NULL) return;
    leveldb_iter_destroy(it->it);
    leveldb_readoptions_destroy(it->ropts);
    free(it->prefix);
    free(it);
}

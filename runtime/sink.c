/* sink.c - file and stdout sinks.
 *
 * A sink encodes each event into its own buffer and writes the buffer when
 * it passes SINK_FLUSH bytes, when the loop is about to wait, at
 * checkpoints and at shutdown: one write(2) per many events. A write that
 * fails keeps its bytes buffered, so nothing is lost before the caller
 * decides (fail the job, retry at the next flush). A record that cannot be
 * encoded goes to the dead-letter sink. The sink owns its fd and buffer. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "format.h"
#include "log.h"
#include "memio.h"

/* Small enough that the buffer stays in the core's cache between flushes:
 * at 256 KiB, writing through it evicted the job's own data (the word
 * count took 31% more last-level misses in callgrind's model of a 1 MiB
 * cache; 16 and 32 KiB did equally well). A write per 32 KiB costs little. */
#define SINK_FLUSH (32 * 1024)

struct eddy_sink {
    eddy_job *job;
    eddy_node *node;
    char *name, *path;
    int fd, own_fd, fmt;
    int restore; /* reopen at restore_len instead of emptying */
    int gone;    /* stdout's reader went away (reader_gone) */
    uint64_t restore_len;
    uint64_t length;  /* bytes in the file (after the last flush) */
    uint64_t started; /* bytes whose writeback has been started */
    eddy_buf buf;
    unsigned long long count;
    eddy_capture *cap; /* testing kit: records kept in memory (not
                          owned) instead of a file */
};

eddy_node *eddy_sink_node(eddy_sink *s) {
    return s->node;
}
const char *eddy_sink_name(const eddy_sink *s) {
    return s->name;
}
const char *eddy_sink_path(const eddy_sink *s) {
    return s->path;
}
unsigned long long eddy_sink_count(const eddy_sink *s) {
    return s->count;
}

/* A memory sink checks the record encodes as its format would, then keeps
 * the value itself. [-0, +0, m] */
static int capture_write(eddy_sink *s, lua_State *L, int idx, const char *side,
                         char *err, size_t errlen) {
    eddy_buf_reset(&s->buf);
    int rc = eddy_format_encode(L, s->fmt, idx, &s->buf, err, errlen);
    eddy_buf_reset(&s->buf);
    if (rc != 0 || eddy_capture_add(s->cap, L, idx, side, err, errlen) != 0)
        return -1;
    s->count++;
    return 0;
}

int eddy_sink_write(eddy_sink *s, lua_State *L, int idx, char *err,
                    size_t errlen) {
    if (s->cap) return capture_write(s, L, idx, NULL, err, errlen);
    if (eddy_format_encode(L, s->fmt, idx, &s->buf, err, errlen) != 0)
        return -1;
    s->count++;
    if (s->buf.len >= SINK_FLUSH && eddy_sink_flush(s, err, errlen) != 0) {
        eddy_job_fail(s->job, "sink %s: %s", s->name, err);
        return 0; /* the record itself is buffered, not lost */
    }
    return 0;
}

static void sink_push(void *self, lua_State *L, int ev) {
    eddy_sink *s = self;
    char err[512];
    if (eddy_sink_write(s, L, ev, err, sizeof err) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "sink %s: %s", s->name, err);
        eddy_job_dead_letter(s->job, msg, s->name, L, 0, ev, NULL, 0);
    }
}

/* A wildcard side's record: a memory sink keeps the side's name. */
static void sink_side_push(void *self, lua_State *L, int ev, const char *side) {
    eddy_sink *s = self;
    char err[512];
    if (s->cap == NULL) {
        sink_push(self, L, ev);
    } else if (capture_write(s, L, ev, side, err, sizeof err) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "sink %s: %s", s->name, err);
        eddy_job_dead_letter(s->job, msg, s->name, L, 0, ev, NULL, 0);
    }
}

/* Every WRITEBACK_STEP bytes written to a file it owns, the sink asks the
 * kernel to start writing them to disk (sync_file_range, which does not
 * wait), as RocksDB's bytes_per_sync does. The fdatasync of the next
 * checkpoint, or of a clean shutdown, then finds little left to write:
 * the word count's final sync of 178 MB took 0.21 s without it. Nothing
 * depends on it for correctness: durability still comes from fdatasync. */
#define WRITEBACK_STEP (1024 * 1024)

static void start_writeback(eddy_sink *s) {
#ifdef SYNC_FILE_RANGE_WRITE
    if (!s->own_fd || s->length - s->started < WRITEBACK_STEP) return;
    (void)sync_file_range(s->fd, (off64_t)s->started,
                          (off64_t)(s->length - s->started),
                          SYNC_FILE_RANGE_WRITE);
    s->started = s->length;
#else
    (void)s;
#endif
}

/* stdout's reader went away (`eddy run job.lua | head`): nothing can
 * reach it again, so the buffer is dropped and no restart is tried. */
static int reader_gone(eddy_sink *s, char *err, size_t errlen) {
    snprintf(err, errlen,
             "stdout was closed by its reader (broken pipe): the job "
             "stops without restarting");
    eddy_buf_reset(&s->buf);
    s->gone = 1;
    eddy_job_no_restart(s->job);
    return -1;
}

int eddy_sink_flush(eddy_sink *s, char *err, size_t errlen) {
    size_t off = 0;
    if (s->gone) return reader_gone(s, err, errlen);
    while (off < s->buf.len) {
        ssize_t w = write(s->fd, s->buf.data + off, s->buf.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EPIPE && s->path == NULL)
            return reader_gone(s, err, errlen);
        if (w < 0) {
            snprintf(err, errlen, "write to %s failed: %s",
                     s->path ? s->path : "stdout", strerror(errno));
            eddy_buf_consume(&s->buf, off);
            s->length += off;
            return -1;
        }
        off += (size_t)w;
        s->length += (uint64_t)w;
    }
    eddy_buf_reset(&s->buf);
    start_writeback(s);
    return 0;
}

int eddy_sink_sync(eddy_sink *s, char *err, size_t errlen) {
    if (eddy_sink_flush(s, err, errlen) != 0) return -1;
    if (s->own_fd && fdatasync(s->fd) != 0) {
        snprintf(err, errlen, "fdatasync %s failed: %s", s->path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* mkdir -p for the directory part of path. */
static void make_parents(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(tmp, 0777);
        *p = '/';
    }
}

static eddy_sink *sink_alloc(eddy_job *job, const char *name, int fmt) {
    eddy_sink *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->job = job;
    s->fd = -1;
    s->fmt = fmt;
    eddy_buf_init(&s->buf);
    s->name = strdup(name);
    s->node = eddy_node_new(name, sink_push, s);
    if (s->name == NULL || s->node == NULL) {
        eddy_sink_free(s);
        return NULL;
    }
    eddy_node_set_side_push(s->node, sink_side_push);
    return s;
}

/* Cuts the file back to what the last checkpoint committed. */
static int sink_cut(eddy_sink *s, char *err, size_t n) {
    struct stat st;
    if (fstat(s->fd, &st) != 0 || (uint64_t)st.st_size < s->restore_len) {
        snprintf(err, n,
                 "sink %s: %s holds %lld bytes but the last "
                 "checkpoint committed %llu: it was changed outside eddy "
                 "(move it away, or use a fresh state dir)",
                 s->name, s->path, (long long)st.st_size,
                 (unsigned long long)s->restore_len);
        return -1;
    }
    if (ftruncate(s->fd, (off_t)s->restore_len) != 0 ||
        lseek(s->fd, 0, SEEK_END) < 0) {
        snprintf(err, n, "sink %s: cannot cut %s back: %s", s->name, s->path,
                 strerror(errno));
        return -1;
    }
    s->length = s->started = s->restore_len;
    return 0;
}

int eddy_sink_open(eddy_sink *s, char *err, size_t n) {
    if (s->cap) { /* empty, or cut back to what was committed */
        size_t have = eddy_capture_count(s->cap);
        eddy_capture_truncate(s->cap, s->restore && s->restore_len < have
                                          ? (size_t)s->restore_len
                                      : s->restore ? have
                                                   : 0);
        return 0;
    }
    if (s->path == NULL || s->fd >= 0) return 0; /* stdout, or open */
    make_parents(s->path);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (s->restore ? 0 : O_TRUNC);
    s->fd = open(s->path, flags, 0666);
    if (s->fd < 0) {
        snprintf(err, n, "sink %s: cannot open %s: %s", s->name, s->path,
                 strerror(errno));
        return -1;
    }
    s->own_fd = 1;
    s->length = s->started = 0;
    return s->restore ? sink_cut(s, err, n) : 0;
}

void eddy_sink_set_restore(eddy_sink *s, uint64_t len) {
    s->restore = 1;
    s->restore_len = len;
}

int eddy_sink_committed(eddy_sink *s, uint64_t *len, char *err, size_t n) {
    if (eddy_sink_flush(s, err, n) != 0) return -1;
    *len = s->cap ? eddy_capture_count(s->cap) : s->length;
    return 0;
}

int eddy_sink_fd(const eddy_sink *s) {
    return s->own_fd ? s->fd : -1;
}
int eddy_sink_exactly_once(const eddy_sink *s) {
    return s->own_fd || s->cap != NULL;
}

eddy_sink *eddy_sink_new_file(eddy_job *job, const char *name, const char *path,
                              char *err, size_t errlen) {
    eddy_sink *s = sink_alloc(job, name, EDDY_FMT_JSON);
    if (s && !(s->path = strdup(path))) snprintf(err, errlen, "out of memory");
    if (s == NULL || s->path == NULL) {
        eddy_sink_free(s);
        return NULL;
    }
    return s;
}

/* Reads string field k of the table at idx, or NULL. [-0, +0, -] */
static const char *str_field(lua_State *L, int idx, const char *k) {
    lua_getfield(L, idx, k);
    const char *v = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays alive in the description table */
    return v;
}

eddy_sink *eddy_sink_new(eddy_job *job, lua_State *L, int desc, const char *dir,
                         char *err, size_t errlen) {
    const char *kind = str_field(L, desc, "kind");
    const char *name = str_field(L, desc, "name");
    const char *path = str_field(L, desc, "path");
    int fmt = eddy_format_parse(str_field(L, desc, "format"));
    if (fmt < 0 || kind == NULL) {
        snprintf(err, errlen, "sink %s: unknown format (lines or json)",
                 name ? name : "?");
        return NULL;
    }
    eddy_sink *s = sink_alloc(job, name ? name : kind, fmt);
    if (s == NULL) return NULL;
    if (strcmp(kind, "stdout") == 0) {
        s->fd = STDOUT_FILENO;
        return s;
    }
    if (strcmp(kind, "memory") == 0) {
        lua_getfield(L, desc, "capture");
        s->cap = lua_touserdata(L, -1);
        lua_pop(L, 1);
        if (s->cap) return s;
        snprintf(err, errlen, "sink %s: a memory sink needs a capture",
                 s->name);
        eddy_sink_free(s);
        return NULL;
    }
    char full[4096];
    if (path == NULL) {
        snprintf(err, errlen, "sink %s: a file sink needs a path", s->name);
        eddy_sink_free(s);
        return NULL;
    }
    snprintf(full, sizeof full, "%s%s%s", path[0] == '/' ? "" : dir,
             path[0] == '/' ? "" : "/", path);
    if ((s->path = strdup(full)) == NULL) {
        eddy_sink_free(s);
        return NULL;
    }
    return s; /* the file is opened (and emptied) by eddy_sink_open */
}

void eddy_sink_free(eddy_sink *s) {
    if (s == NULL) return;
    if (s->buf.len) {
        char err[256];
        if (eddy_sink_flush(s, err, sizeof err) != 0)
            eddy_error("sink %s: %s", s->name, err);
    }
    if (s->own_fd && s->fd >= 0) close(s->fd);
    eddy_buf_free(&s->buf);
    eddy_node_free(s->node);
    free(s->name);
    free(s->path);
    free(s);
}

/* source_file.c - file and stdin sources.
 *
 * A regular file is read from an ev_idle watcher, one bounded chunk per
 * callback, so timers, signals and other sources get their turn between
 * chunks (an always-readable file would otherwise starve them). At the end
 * of a bounded file the last line (even without '\n') is delivered and the
 * source finishes; with follow = true it polls for appended bytes instead,
 * and a trailing partial line waits for its newline. Following a path is
 * like `tail -F`: at the end of the open file each poll also checks for
 * truncation (the size dropped below the bytes read: warn, read it again
 * from 0) and rotation (the path names another regular file: the old one
 * is read to its end first, its last unterminated line delivered, then the
 * new one is read from 0). A missing path is polled quietly (one log line)
 * while the old file stays open and read; a path missing at the start is
 * polled the same way until it appears (open_late). At recovery, a
 * followed file rotated since the checkpoint is found in its directory by
 * its inode and read to its end first (find_rotated). Invariant: the line
 * splitter's offset always counts bytes of the file f->fd has open, so a
 * checkpoint (offset, dev, inode) names the file it was taken in. Pipes and
 * terminals (stdin) use an ev_io watcher, also one chunk per callback. The
 * struct owns its fd (except stdin) and its line splitter. */
#include <errno.h>
#include <dirent.h>
#include <ev.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lines.h"
#include "log.h"
#include "source.h"

/* Bytes read per callback: small enough to stay in cache while its lines
 * are handled (see SINK_FLUSH in sink.c), and a bound on the time one
 * busy source holds the loop. */
#define CHUNK (32 * 1024)
#define FOLLOW_POLL_S 0.05

typedef struct file_src {
    eddy_source *src;
    struct ev_loop *loop;
    char *path; /* NULL for stdin */
    int fd, follow, regular;
    int missing;            /* follow: the path is gone (logged) */
    uint64_t resume;        /* offset to start from (recovery) */
    uint64_t rd, turn_end;  /* a file: bytes read, and where this turn's
                               read stops (see turn_end) */
    int unfinished;         /* a signal stopped the turn: lines are left */
    uint64_t want_turn_end; /* recovery: the checkpoint's turn_end */
    int hold_turn;          /* recovery: its turn was unfinished */
    long long want_dev, want_ino; /* identity recorded with it, or -1 */
    eddy_lines *lines;
    ev_idle idle;
    ev_io io;
    ev_timer poll;
} file_src;

static void deliver(file_src *f) {
    eddy_source_drain(f->src, f->lines);
}

static void stop_watchers(file_src *f) {
    ev_idle_stop(f->loop, &f->idle);
    ev_io_stop(f->loop, &f->io);
    ev_timer_stop(f->loop, &f->poll);
}

static void at_end(file_src *f) {
    if (f->follow) {
        ev_idle_stop(f->loop, &f->idle);
        ev_timer_again(f->loop, &f->poll);
        return;
    }
    eddy_lines_finish(f->lines);
    deliver(f);
    stop_watchers(f);
    eddy_source_finished(f->src);
}

/* Where a turn that starts reading at offset `at` stops: the end of the
 * CHUNK-aligned block after the one holding byte at - 1. Turns end at the
 * same file offsets whatever offset reading resumed from, and a turn
 * after a resume delivers the lines that turn delivered the first time:
 * the lines from at up to the block's end, whose first one the previous
 * turn saw only in part. A union of files therefore interleaves the same
 * way after a recovery as in a run that never stopped. */
static uint64_t turn_end(uint64_t at) {
    return at == 0 ? CHUNK : ((at - 1) / CHUNK + 2) * CHUNK;
}

/* Sets where a file is read from next (a start, a resume, a rotation). */
static void read_from(file_src *f, uint64_t at) {
    f->rd = at;
    f->turn_end = turn_end(at);
}

/* Reads one turn's bytes: up to CHUNK, and for a file up to f->turn_end
 * (then the next turn ends CHUNK further). Returns bytes read, 0 at the
 * end, -1 on error/EAGAIN. */
static ssize_t read_chunk(file_src *f) {
    size_t room, want = CHUNK, got = 0;
    if (f->regular) want = (size_t)(f->turn_end - f->rd);
    ssize_t n = 0;
    while (got < want) {
        char *p = eddy_lines_space(f->lines, &room);
        if (p == NULL) {
            eddy_job_fail(eddy_source_job(f->src), "source %s: out of memory",
                          eddy_source_name(f->src));
            return -1;
        }
        if (room > want - got) room = want - got;
        do n = read(f->fd, p, room);
        while (n < 0 && errno == EINTR);
        if (n <= 0) break;
        eddy_lines_commit(f->lines, (size_t)n);
        got += (size_t)n;
        if (!f->regular) break; /* a pipe: what it had */
    }
    f->rd += got;
    if (f->regular && f->rd >= f->turn_end) f->turn_end += CHUNK;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        eddy_job_fail(eddy_source_job(f->src), "source %s: read failed: %s",
                      eddy_source_name(f->src), strerror(errno));
    return got > 0 ? (ssize_t)got : n;
}

static void on_readable(file_src *f) {
    if (eddy_source_halted(f->src)) {
        stop_watchers(f);
        return;
    }
    /* a file (the idle watcher) stops a turn between two lines when a
     * signal arrives; the loop answers it, and the turn's other lines go
     * next, before any other source's turn (eddy_source_drain_some), so
     * a union interleaves as if no signal had come */
    int sliced = ev_is_active(&f->idle);
    if (sliced && eddy_job_turn_held(eddy_source_job(f->src), f->src)) return;
    if (sliced && f->unfinished) {
        f->unfinished = eddy_source_drain_some(f->src, f->lines);
        return;
    }
    ssize_t n = read_chunk(f);
    if (n > 0 && sliced)
        f->unfinished = eddy_source_drain_some(f->src, f->lines);
    else if (n > 0)
        deliver(f);
    else if (n == 0)
        at_end(f);
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        stop_watchers(f);
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents) {
    on_readable(w->data);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents) {
    on_readable(w->data);
}

/* follow mode, at the end of the open file: 1 when the file was truncated
 * below the bytes read; it is then read again from the start. */
static int check_truncated(file_src *f) {
    struct stat st;
    off_t pos = lseek(f->fd, 0, SEEK_CUR);
    if (pos <= 0 || fstat(f->fd, &st) != 0 || st.st_size >= pos) return 0;
    if (lseek(f->fd, 0, SEEK_SET) < 0) return 0;
    read_from(f, 0);
    size_t partial = eddy_lines_pending(f->lines);
    eddy_warn("source %s: %s was truncated (%lld bytes, %lld were read): "
              "reading it again from the start%s",
              eddy_source_name(f->src), f->path, (long long)st.st_size,
              (long long)pos,
              partial ? " (an unfinished line before it is dropped)" : "");
    eddy_lines_reset(f->lines, 0);
    return 1;
}

/* 1 when a and b are the same file. */
static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Opens the regular file at the path if it is not the one f->fd has open:
 * its fd, or -1 (the same file, or none there: logged once). O_NONBLOCK in
 * case a fifo took the path meanwhile. */
static int open_replacement(file_src *f) {
    struct stat now, cur;
    const char *why = "not a regular file";
    if (stat(f->path, &now) != 0) {
        why = strerror(errno);
    } else if (S_ISREG(now.st_mode)) {
        f->missing = 0;
        if (fstat(f->fd, &cur) != 0 || same_file(&now, &cur)) return -1;
        int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0 && (fstat(fd, &now) != 0 || !S_ISREG(now.st_mode) ||
                        same_file(&now, &cur))) {
            close(fd);
            fd = -1;
        }
        return fd; /* -1: replaced again meanwhile, the next poll sees */
    }
    if (!f->missing)
        eddy_info("source %s: %s is gone (%s); reading on the open file "
                  "and waiting for a new one",
                  eddy_source_name(f->src), f->path, why);
    f->missing = 1;
    return -1;
}

/* follow mode, at the end of the open file: 1 when the path names another
 * file (rotated); the old one is finished and the new one read from 0. */
static int check_rotated(file_src *f) {
    int fd = open_replacement(f);
    if (fd < 0) return 0;
    eddy_lines_finish(f->lines); /* the old file's last line, unterminated */
    deliver(f);
    if (eddy_source_halted(f->src)) { /* lines may be left: keep the file */
        close(fd);
        return 0;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    close(f->fd);
    f->fd = fd;
    eddy_lines_reset(f->lines, 0);
    read_from(f, 0);
    eddy_info("source %s: %s was rotated: reading the new file from the "
              "start",
              eddy_source_name(f->src), f->path);
    return 1;
}

/* follow mode: looks for appended bytes, then truncation and rotation. */
static int open_late(file_src *f);

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    file_src *f = w->data;
    if (eddy_source_halted(f->src)) {
        stop_watchers(f);
        return;
    }
    if (f->fd < 0) { /* not there yet (open_late) */
        open_late(f);
        return;
    }
    ssize_t n = read_chunk(f);
    if (n > 0)
        deliver(f);
    else if (n < 0 || f->path == NULL || !f->regular)
        return;
    else if (!check_truncated(f) && !check_rotated(f))
        return;
    ev_timer_stop(loop, &f->poll);
    ev_idle_start(loop, &f->idle);
}

/* Recovery: continues after the last checkpointed line, unless the file
 * is not the one the checkpoint saw. */
static void fs_seek(file_src *f, const struct stat *st) {
    const char *name = eddy_source_name(f->src);
    if (f->want_ino >= 0 && ((long long)st->st_ino != f->want_ino ||
                             (long long)st->st_dev != f->want_dev)) {
        eddy_warn("source %s: %s is not the file of the last checkpoint "
                  "(another inode): reading it from the start",
                  name, f->path);
        return;
    }
    if ((uint64_t)st->st_size < f->resume) {
        eddy_warn("source %s: %s is shorter than the checkpointed position "
                  "%llu: reading it from the start",
                  name, f->path, (unsigned long long)f->resume);
        return;
    }
    if (lseek(f->fd, (off_t)f->resume, SEEK_SET) < 0) return;
    eddy_lines_reset(f->lines, f->resume);
    read_from(f, f->resume);
    /* the turn the checkpoint was taken in, when it tells (a checkpoint
     * in the middle of a turn ends it where it would have ended) */
    if (f->want_turn_end > f->resume &&
        f->want_turn_end - f->resume <= 2 * (uint64_t)CHUNK)
        f->turn_end = f->want_turn_end;
    if (f->hold_turn) eddy_job_hold_turn(eddy_source_job(f->src), f->src, 1);
    eddy_info("source %s: resuming %s at byte %llu", name, f->path,
              (unsigned long long)f->resume);
}

/* Recovery of a followed file that was rotated while eddy was down (or
 * before a checkpoint saw the rotation): the checkpoint's file may still
 * be in the path's directory under another name (app.log.1). Opens it in
 * place of f->fd, so that its rest is read first; the rotation check
 * then moves on to the file at the path, from 0, as it does live. */
static void find_rotated(file_src *f) {
    struct stat st;
    if (!f->follow || f->want_ino < 0 || fstat(f->fd, &st) != 0 ||
        ((long long)st.st_ino == f->want_ino &&
         (long long)st.st_dev == f->want_dev))
        return;
    char dir[4096], p[4096 + 256];
    snprintf(dir, sizeof dir, "%s", f->path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    DIR *d = opendir(slash ? (dir[0] ? dir : "/") : ".");
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        snprintf(p, sizeof p, "%s/%s", slash ? dir : ".", e->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) ||
            (long long)st.st_ino != f->want_ino ||
            (long long)st.st_dev != f->want_dev)
            continue;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        eddy_info("source %s: %s was rotated to %s since the checkpoint: "
                  "reading its rest first",
                  eddy_source_name(f->src), f->path, p);
        close(f->fd);
        f->fd = fd;
        break;
    }
    if (d) closedir(d);
}

/* Starts reading the open f->fd: from the checkpoint's position if it is
 * the same file, else from 0. */
static void begin_reading(file_src *f) {
    struct stat st;
    if (f->path && f->resume > 0) find_rotated(f);
    f->regular = fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
    read_from(f, 0);
    if (f->path && f->resume > 0) fs_seek(f, &st);
    if (f->regular) {
        ev_idle_start(f->loop, &f->idle);
    } else {
        fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK);
        ev_io_set(&f->io, f->fd, EV_READ);
        ev_io_start(f->loop, &f->io);
    }
}

/* follow = true on a path that does not exist yet: like `tail -F`, the
 * source waits for it (polled); 1 once it is open and read. */
static int open_late(file_src *f) {
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) return 0;
    eddy_info("source %s: %s appeared: reading it", eddy_source_name(f->src),
              f->path);
    f->missing = 0;
    ev_timer_stop(f->loop, &f->poll);
    begin_reading(f);
    return 1;
}

static int fs_start(void *impl, char *err, size_t errlen) {
    file_src *f = impl;
    f->loop = eddy_job_loop(eddy_source_job(f->src));
    ev_idle_init(&f->idle, idle_cb);
    ev_io_init(&f->io, io_cb, f->fd, EV_READ);
    ev_timer_init(&f->poll, poll_cb, FOLLOW_POLL_S, FOLLOW_POLL_S);
    f->idle.data = f->io.data = f->poll.data = f;
    if (f->path) {
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0 && f->follow && errno == ENOENT) {
            eddy_info("source %s: %s does not exist yet: waiting for it",
                      eddy_source_name(f->src), f->path);
            f->missing = 1;
            ev_timer_again(f->loop, &f->poll);
            return 0;
        }
        if (f->fd < 0) {
            snprintf(err, errlen, "source %s: cannot open %s: %s",
                     eddy_source_name(f->src), f->path, strerror(errno));
            return -1;
        }
    }
    begin_reading(f);
    return 0;
}

static void fs_stop(void *impl) {
    file_src *f = impl;
    if (f->loop) stop_watchers(f);
}

static void fs_free(void *impl) {
    file_src *f = impl;
    if (f->path && f->fd >= 0) close(f->fd);
    eddy_lines_free(f->lines);
    free(f->path);
    free(f);
}

/* [-0, +1, m] */
static void fs_snapshot(void *impl, lua_State *L) {
    file_src *f = impl;
    struct stat st;
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)eddy_lines_offset(f->lines));
    lua_setfield(L, -2, "offset");
    if (f->regular) { /* where the turn in hand ends (see turn_end) */
        lua_pushinteger(L, (lua_Integer)(f->unfinished ? f->rd : f->turn_end));
        lua_setfield(L, -2, "turn_end");
        lua_pushboolean(L, f->unfinished);
        lua_setfield(L, -2, "unfinished");
    }
    if (f->path && f->fd >= 0 && fstat(f->fd, &st) == 0) {
        lua_pushinteger(L, (lua_Integer)st.st_dev);
        lua_setfield(L, -2, "dev");
        lua_pushinteger(L, (lua_Integer)st.st_ino);
        lua_setfield(L, -2, "inode");
    }
}

/* [-0, +0, -] */
static int fs_restore(void *impl, lua_State *L, int idx, char *err,
                      size_t errlen) {
    file_src *f = impl;
    if (f->path == NULL) return 0; /* stdin cannot replay */
    lua_getfield(L, idx, "offset");
    lua_getfield(L, idx, "dev");
    lua_getfield(L, idx, "inode");
    /* stack: offset dev inode */
    f->resume = (uint64_t)lua_tointeger(L, -3);
    f->want_dev = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : -1;
    f->want_ino = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
    lua_getfield(L, idx, "turn_end");
    lua_getfield(L, idx, "unfinished");
    /* stack: offset dev inode turn_end unfinished */
    f->want_turn_end = (uint64_t)lua_tointeger(L, -2);
    f->hold_turn = lua_toboolean(L, -1);
    lua_pop(L, 5);
    return 0;
}

static const eddy_source_ops file_ops = {fs_start, fs_stop, fs_free,
                                         fs_snapshot, fs_restore};

int eddy_source_file_init(eddy_source *s, lua_State *L, int desc,
                          const char *dir, char *err, size_t errlen) {
    file_src *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    f->src = s;
    f->fd = STDIN_FILENO;
    f->want_dev = f->want_ino = -1;
    lua_getfield(L, desc, "path");
    lua_getfield(L, desc, "follow");
    lua_getfield(L, desc, "kind");
    /* stack: path follow kind */
    f->follow = lua_toboolean(L, -2);
    int is_file = strcmp(lua_tostring(L, -1), "file") == 0;
    const char *path = lua_tostring(L, -3);
    if (is_file && path == NULL) {
        snprintf(err, errlen, "source %s: a file source needs a path",
                 eddy_source_name(s));
        lua_pop(L, 3);
        free(f);
        return -1;
    }
    if (is_file) {
        char full[4096];
        snprintf(full, sizeof full, "%s%s%s", path[0] == '/' ? "" : dir,
                 path[0] == '/' ? "" : "/", path);
        f->path = strdup(full);
    }
    lua_pop(L, 3);
    f->lines = eddy_lines_new(eddy_source_max_line(s), CHUNK);
    eddy_source_attach(s, &file_ops, f);
    return f->lines ? 0 : -1;
}

/* checkpoint.c - incremental checkpoints and recovery.
 *
 * A checkpoint is one synced LevelDB batch: the state every operator
 * changed since the previous one (deletions as tombstones), a record with
 * every source's position and every file sink's committed length, and the
 * pointer to the last completed checkpoint. Its serialization runs on the
 * loop thread between two events (so it sees a consistent cut); making the
 * sinks durable and writing the batch run on a writer thread while the
 * loop goes on. Only when the write is durable do operators forget the
 * snapshot; if it fails they count those keys as changed again, so the next
 * checkpoint writes them. Never two at once: a request during a write waits
 * for it. The checkpointer owns the writer thread and the batch in flight;
 * the store and the graph belong to the job. */
#include "checkpoint.h"

#include <ev.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "state_codec.h"

#define MAX_FDS 256
#define HISTORY 1000 /* checkpoint records kept */

struct eddy_ckpt {
    eddy_job *job;
    eddy_graph *graph;
    eddy_store *store;
    struct ev_loop *loop;
    char *dir; /* the state dir */
    int64_t interval_ms;
    int64_t event_time_ms, wm_bucket; /* last multiple the watermark passed */
    eddy_alarm *timer;                /* the periodic trigger (NULL: none) */
    ev_async done;
    uint64_t last_id;
    unsigned long failures;
    eddy_ckpt_stats st; /* for metrics (failed: see failures) */
    const char *queued; /* a trigger waiting for the write in flight */
    /* the checkpoint in flight */
    int in_flight;
    uint64_t id;
    const char *trigger;
    size_t keys, bytes;
    int64_t t0, pause_ms, time_ms;
    /* shared with the writer thread, under mu */
    pthread_t writer;
    int writer_running, stop, have_work, work_done, result;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    eddy_batch *batch;
    eddy_buf rbuf;  /* the record's bytes (owned: survives errors) */
    char err[1024]; /* why serializing failed */
    int fds[MAX_FDS];
    int nfds;
    char werr[512];
};

static void write_sidecar(const char *dir, const char *name, const char *value);

uint64_t eddy_ckpt_last(const eddy_ckpt *c) {
    return c->last_id;
}
unsigned long eddy_ckpt_failures(const eddy_ckpt *c) {
    return c->failures;
}
void eddy_ckpt_get_stats(const eddy_ckpt *c, eddy_ckpt_stats *st) {
    *st = c->st;
    st->failed = c->failures;
}

static void put_be64(char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (char)(v & 0xff);
}

static uint64_t get_be64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | (unsigned char)p[i];
    return v;
}

/* Makes the sinks durable, then the batch: on the writer thread, or on
 * the loop thread for the final checkpoint. */
static int write_durably(eddy_ckpt *c, char *err, size_t errlen) {
    for (int i = 0; i < c->nfds; i++) {
        if (fdatasync(c->fds[i]) != 0) {
            snprintf(err, errlen, "cannot make a sink durable (fdatasync)");
            return -1;
        }
    }
    return eddy_store_write(c->store, c->batch, 1, err, errlen);
}

static void *writer_main(void *arg) {
    eddy_ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->have_work && !c->stop) pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        pthread_mutex_unlock(&c->mu);
        char err[512];
        int rc = write_durably(c, err, sizeof err);
        pthread_mutex_lock(&c->mu);
        c->result = rc;
        if (rc != 0) snprintf(c->werr, sizeof c->werr, "%s", err);
        c->have_work = 0;
        c->work_done = 1;
        pthread_cond_broadcast(&c->cv);
        eddy_job_want_loop(); /* a long run of lines makes way */
        ev_async_send(c->loop, &c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Encodes the record at rec into c->rbuf with rec.bytes set to what the
 * whole batch writes, the record, the pointer to it and the dropped old
 * record included (what put_record adds): the figure is encoded until it
 * is the figure the encoding makes (a varint can grow by a byte, so this
 * settles in two or three rounds). [-0, +0, m] */
static int encode_record(eddy_ckpt *c, lua_State *L, int rec, char *err,
                         size_t errlen) {
    size_t rest =
        eddy_batch_bytes(c->batch) + 9 + 5 + 8 + (c->id > HISTORY ? 9 : 0);
    size_t bytes = rest;
    for (;;) {
        lua_pushinteger(L, (lua_Integer)bytes);
        lua_setfield(L, rec, "bytes");
        eddy_buf_reset(&c->rbuf);
        if (eddy_codec_encode(L, rec, "checkpoint", &c->rbuf, err, errlen))
            return -1;
        if (rest + c->rbuf.len == bytes) return 0;
        bytes = rest + c->rbuf.len;
    }
}

/* Adds the checkpoint record at rec and the pointer to it to the batch.
 * [-0, +0, m] */
static int put_record(eddy_ckpt *c, lua_State *L, int rec, char *err,
                      size_t errlen) {
    lua_pushinteger(L, (lua_Integer)c->id);
    lua_setfield(L, rec, "id");
    lua_pushstring(L, c->trigger);
    lua_setfield(L, rec, "trigger");
    c->time_ms = eddy_clock_now(eddy_job_clock(c->job));
    lua_pushinteger(L, c->time_ms);
    lua_setfield(L, rec, "time");
    lua_pushinteger(L, (lua_Integer)c->keys);
    lua_setfield(L, rec, "keys");
    if (encode_record(c, L, rec, err, errlen) != 0) return -1;
    char k[9] = {'c'}, id[8];
    put_be64(k + 1, c->id);
    put_be64(id, c->id);
    eddy_batch_put(c->batch, k, 9, c->rbuf.data, c->rbuf.len);
    eddy_batch_put(c->batch, "mlast", 5, id, 8);
    if (c->id > HISTORY) {
        put_be64(k + 1, c->id - HISTORY);
        eddy_batch_delete(c->batch, k, 9);
    }
    return 0;
}

/* The Lua side of begin, in protected mode: the record, the operators'
 * state and the pointer into c->batch. [-0, +0, m] */
static int serialize(lua_State *L, void *ud) {
    eddy_ckpt *c = ud;
    size_t n = sizeof c->err;
    lua_newtable(L);
    int rec = lua_gettop(L);
    if (eddy_graph_snapshot(c->graph, L, rec, c->batch, &c->keys, c->err, n) !=
        0)
        return -1;
    if (eddy_job_snapshot_extra(c->job, L, rec, c->err, n) != 0 ||
        put_record(c, L, rec, c->err, n) != 0) {
        eddy_graph_rollback(c->graph);
        return -1;
    }
    lua_pop(L, 1);
    return 0;
}

/* Serializes a checkpoint into c->batch: 0, or -1 (logged and counted,
 * nothing changed). */
static int begin(eddy_ckpt *c, const char *trigger) {
    eddy_vm *vm = eddy_job_vm(c->job);
    c->t0 = eddy_clock_mono_ms();
    c->id = c->last_id + 1;
    c->trigger = trigger;
    c->batch = eddy_batch_new();
    snprintf(c->err, sizeof c->err, "out of memory");
    int rc = c->batch ? eddy_vm_protect(vm, serialize, c) : -1;
    if (rc != 0) {
        if (strcmp(eddy_vm_error(vm), "failed") != 0) /* raised: memory */
            snprintf(c->err, sizeof c->err, "%s", eddy_vm_error(vm));
        c->failures++;
        c->st.last_failed = 1;
        eddy_error("checkpoint %llu (%s) failed: %s; the previous checkpoint "
                   "stays in effect",
                   (unsigned long long)c->id, trigger, c->err);
        eddy_batch_free(c->batch);
        c->batch = NULL;
        return -1;
    }
    c->bytes = eddy_batch_bytes(c->batch);
    c->nfds = eddy_graph_sink_fds(c->graph, c->fds, MAX_FDS - 1);
    int dfd = eddy_job_dlq_fd(c->job);
    if (dfd >= 0) c->fds[c->nfds++] = dfd;
    c->pause_ms = eddy_clock_mono_ms() - c->t0;
    return 0;
}

/* The write finished (result rc, error werr): commit or roll back. */
static void complete(eddy_ckpt *c, int rc, const char *werr) {
    c->in_flight = 0;
    eddy_batch_free(c->batch);
    c->batch = NULL;
    if (rc != 0) {
        c->failures++;
        c->st.last_failed = 1;
        eddy_graph_rollback(c->graph);
        eddy_error("checkpoint %llu (%s) failed: %s; the previous checkpoint "
                   "stays in effect",
                   (unsigned long long)c->id, c->trigger, werr);
        return;
    }
    eddy_graph_commit(c->graph);
    c->last_id = c->id;
    c->st.completed++;
    c->st.last_failed = 0;
    c->st.last_time_ms = c->time_ms;
    c->st.last_duration_ms = eddy_clock_mono_ms() - c->t0;
    c->st.last_bytes = c->bytes;
    c->st.bytes_total += c->bytes;
    char id[32];
    snprintf(id, sizeof id, "%llu\n", (unsigned long long)c->id);
    write_sidecar(c->dir, "LAST", id);
    eddy_info("checkpoint %llu (%s): %zu keys, %zu bytes, paused %lld ms, "
              "durable after %lld ms",
              (unsigned long long)c->id, c->trigger, c->keys, c->bytes,
              (long long)c->pause_ms,
              (long long)(eddy_clock_mono_ms() - c->t0));
}

static void on_done(struct ev_loop *loop, ev_async *w, int revents) {
    eddy_ckpt *c = w->data;
    pthread_mutex_lock(&c->mu);
    int done = c->work_done, rc = c->result;
    char werr[512];
    snprintf(werr, sizeof werr, "%s", c->werr);
    c->work_done = 0;
    pthread_mutex_unlock(&c->mu);
    if (!done || !c->in_flight) return;
    complete(c, rc, werr);
    if (c->queued) {
        const char *t = c->queued;
        c->queued = NULL;
        eddy_ckpt_trigger(c, t);
    }
}

void eddy_ckpt_trigger(eddy_ckpt *c, const char *trigger) {
    if (eddy_clock_is_sim(eddy_job_clock(c->job))) { /* tests: in order */
        char err[512];
        eddy_ckpt_now(c, trigger, err, sizeof err);
        return;
    }
    if (c->in_flight) {
        c->queued = trigger;
        return;
    }
    if (begin(c, trigger) != 0) return;
    c->in_flight = 1;
    pthread_mutex_lock(&c->mu);
    c->have_work = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void eddy_ckpt_watermark(eddy_ckpt *c, int64_t wm) {
    if (c->event_time_ms <= 0 || wm == INT64_MIN || wm == INT64_MAX) return;
    int64_t bucket = wm / c->event_time_ms - (wm < 0 && wm % c->event_time_ms);
    if (c->wm_bucket == INT64_MIN) { /* the first watermark sets the base */
        c->wm_bucket = bucket;
        return;
    }
    if (bucket <= c->wm_bucket) return;
    c->wm_bucket = bucket;
    eddy_ckpt_trigger(c, "event_time");
}

static void on_timer(void *data) {
    eddy_ckpt *c = data;
    eddy_alarm_set(c->timer,
                   eddy_clock_now(eddy_job_clock(c->job)) + c->interval_ms);
    eddy_ckpt_trigger(c, "interval");
}

/* Waits for the write in flight, if any, and completes it. */
static void drain(eddy_ckpt *c) {
    if (!c->in_flight) return;
    pthread_mutex_lock(&c->mu);
    while (!c->work_done) pthread_cond_wait(&c->cv, &c->mu);
    int rc = c->result;
    char werr[512];
    snprintf(werr, sizeof werr, "%s", c->werr);
    c->work_done = 0;
    pthread_mutex_unlock(&c->mu);
    complete(c, rc, werr);
}

int eddy_ckpt_now(eddy_ckpt *c, const char *trigger, char *err, size_t errlen) {
    drain(c);
    if (begin(c, trigger) != 0) {
        snprintf(err, errlen, "%s", c->err);
        return -1;
    }
    c->in_flight = 1;
    char werr[512];
    int rc = write_durably(c, werr, sizeof werr);
    complete(c, rc, werr);
    if (rc != 0) snprintf(err, errlen, "%s", werr);
    return rc;
}

int eddy_ckpt_final(eddy_ckpt *c, char *err, size_t errlen) {
    if (c->timer) eddy_alarm_cancel(c->timer);
    c->queued = NULL;
    char why[512];
    if (eddy_ckpt_now(c, "final", why, sizeof why) == 0) return 0;
    snprintf(err, errlen, "the final checkpoint failed: %s", why);
    return -1;
}

/* ---- recovery ----------------------------------------------------------
 * Beside the database, two small files guard against LevelDB quietly
 * dropping data (a torn or corrupted log is skipped on open, which would
 * look like a fresh store): FORMAT says the dir holds eddy state, LAST the
 * id of the last checkpoint known complete. A database that lost them is
 * an error, never a fresh start. */

/* Writes value into dir/name atomically (tmp + rename). */
static void write_sidecar(const char *dir, const char *name,
                          const char *value) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) return;
    int ok = fputs(value, f) >= 0;
    if (fclose(f) == 0 && ok) rename(tmp, path);
}

/* Reads dir/name into buf: 1 read, 0 absent. */
static int read_sidecar(const char *dir, const char *name, char *buf,
                        size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
    return 1;
}

/* A store without the format marker: stamps a fresh one, refuses others. */
static int stamp_format(eddy_ckpt *c, const char *dir, char *err,
                        size_t errlen) {
    const char *k, *v;
    size_t kn, vn;
    eddy_iter *it = eddy_store_iter(c->store, "", 0);
    int empty = it && !eddy_iter_next(it, &k, &kn, &v, &vn);
    eddy_iter_free(it);
    if (!empty) {
        snprintf(err, errlen,
                 "state dir %s holds data that eddy did not "
                 "write (no format marker); nothing was changed",
                 dir);
        return -1;
    }
    char mark[64];
    if (read_sidecar(dir, "FORMAT", mark, sizeof mark)) {
        snprintf(err, errlen,
                 "state dir %s is corrupted: its database lost "
                 "the eddy state it held (it opened empty); nothing was "
                 "changed, restore it from a backup or move it away",
                 dir);
        return -1;
    }
    eddy_batch *b = eddy_batch_new();
    eddy_batch_put(b, "mformat", 7, EDDY_STATE_FORMAT,
                   strlen(EDDY_STATE_FORMAT));
    int rc = eddy_store_write(c->store, b, 1, err, errlen);
    eddy_batch_free(b);
    if (rc == 0) write_sidecar(dir, "FORMAT", EDDY_STATE_FORMAT "\n");
    return rc;
}

/* Checks the format marker: 1 marked, 0 fresh (stamped now), -1 error. */
static int check_format(eddy_ckpt *c, const char *dir, eddy_buf *v, char *err,
                        size_t errlen) {
    int rc = eddy_store_get(c->store, "mformat", 7, v, err, errlen);
    if (rc < 0) return -1;
    if (rc == 0) return stamp_format(c, dir, err, errlen) == 0 ? 0 : -1;
    if (v->len != strlen(EDDY_STATE_FORMAT) ||
        memcmp(v->data, EDDY_STATE_FORMAT, v->len) != 0) {
        snprintf(err, errlen,
                 "state dir %s was written by an incompatible "
                 "eddy (format \"%.*s\", this eddy reads \"%s\"); nothing "
                 "was changed",
                 dir, (int)(v->len < 40 ? v->len : 40), v->data,
                 EDDY_STATE_FORMAT);
        return -1;
    }
    return 1;
}

/* Reads checkpoint id's record and applies it. [-0, +0, m] */
static int apply(eddy_ckpt *c, const char *dir, uint64_t id, eddy_buf *v,
                 char *err, size_t errlen) {
    lua_State *L = eddy_vm_state(eddy_job_vm(c->job));
    char k[9] = {'c'}, why[512];
    put_be64(k + 1, id);
    int rc = eddy_store_get(c->store, k, 9, v, why, sizeof why);
    if (rc == 1 && eddy_codec_decode(L, v->data, v->len, why, sizeof why) == 0)
        rc = lua_istable(L, -1) ? 1 : (lua_pop(L, 1), -1);
    else if (rc == 1)
        rc = -1;
    if (rc != 1) {
        snprintf(err, errlen,
                 "state dir %s: checkpoint %llu is %s (%s); "
                 "nothing was changed",
                 dir, (unsigned long long)id,
                 rc == 0 ? "missing" : "unreadable", rc == 0 ? "" : why);
        return -1;
    }
    /* stack: record */
    rc = eddy_graph_restore(c->graph, L, -1, c->store, err, errlen);
    if (rc == 0) rc = eddy_job_restore_extra(c->job, L, -1, err, errlen);
    lua_getfield(L, -1, "time");
    c->st.last_time_ms = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    lua_getfield(L, -1, "trigger");
    if (rc == 0)
        eddy_info("recovered from checkpoint %llu (%s) in %s",
                  (unsigned long long)id, lua_tostring(L, -1), dir);
    lua_pop(L, 2);
    return rc;
}

int eddy_ckpt_recover(eddy_ckpt *c, const char *dir, char *err, size_t errlen) {
    free(c->dir);
    c->dir = strdup(dir);
    eddy_buf v;
    eddy_buf_init(&v);
    int rc = check_format(c, dir, &v, err, errlen);
    if (rc == 1) {
        rc = eddy_store_get(c->store, "mlast", 5, &v, err, errlen);
        char last[32];
        unsigned long long known = 0;
        if (read_sidecar(dir, "LAST", last, sizeof last))
            known = strtoull(last, NULL, 10);
        if (rc == 1 && v.len == 8) c->last_id = get_be64(v.data);
        if (rc >= 0 && c->last_id < known) {
            snprintf(err, errlen,
                     "state dir %s is corrupted: checkpoint %llu "
                     "completed but its database holds only up to %llu; "
                     "nothing was changed",
                     dir, known, (unsigned long long)c->last_id);
            rc = -1;
        } else if (rc == 1 && v.len == 8) {
            rc = apply(c, dir, c->last_id, &v, err, errlen);
        } else if (rc == 1) {
            snprintf(err, errlen,
                     "state dir %s: the last-checkpoint pointer "
                     "is corrupted; nothing was changed",
                     dir);
            rc = -1;
        }
    }
    eddy_buf_free(&v);
    if (rc < 0 && strncmp(err, "state dir ", 10) != 0) {
        char why[1024];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen,
                 "state dir %s cannot be read, it may be "
                 "corrupted; nothing was changed (%s)",
                 dir, why);
    }
    return rc < 0 ? -1 : 0;
}

eddy_ckpt *eddy_ckpt_new(eddy_job *job, eddy_graph *g, eddy_store *store,
                         int64_t interval_ms, int64_t event_time_ms) {
    eddy_ckpt *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->job = job;
    c->graph = g;
    c->store = store;
    c->loop = eddy_job_loop(job);
    c->interval_ms = interval_ms;
    c->event_time_ms = event_time_ms;
    c->wm_bucket = INT64_MIN;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    ev_async_init(&c->done, on_done);
    c->done.data = c;
    if (interval_ms > 0 && (c->timer = eddy_alarm_new(
                                eddy_job_clock(job), on_timer, c, 1)) == NULL) {
        free(c);
        return NULL;
    }
    if (pthread_create(&c->writer, NULL, writer_main, c) != 0) {
        eddy_alarm_free(c->timer);
        free(c);
        return NULL;
    }
    c->writer_running = 1;
    return c;
}

void eddy_ckpt_start(eddy_ckpt *c) {
    ev_async_start(c->loop, &c->done);
    ev_unref(c->loop); /* the writer's wake-up alone keeps nothing alive */
    if (c->timer)
        eddy_alarm_set(c->timer,
                       eddy_clock_now(eddy_job_clock(c->job)) + c->interval_ms);
}

void eddy_ckpt_free(eddy_ckpt *c) {
    if (c == NULL) return;
    drain(c);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->writer_running) pthread_join(c->writer, NULL);
    if (ev_is_active(&c->done)) { /* started unreferenced: balance it */
        ev_ref(c->loop);
        ev_async_stop(c->loop, &c->done);
    }
    eddy_alarm_free(c->timer);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->dir);
    eddy_buf_free(&c->rbuf);
    free(c);
}

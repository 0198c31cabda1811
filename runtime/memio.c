/* memio.c - feeds and captures: values kept as state-codec bytes.
 *
 * A feed is an array of records (value, key, event time), read by one
 * memory source at a time through the step function it binds; a capture is
 * an array of records (value, side). Each record owns one malloc'd block
 * holding its bytes. The testing kit owns feeds and captures; sources and
 * sinks only borrow them, so they survive the job being torn down. */
#include "memio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "state_codec.h"

typedef struct record {
    char *val, *key, *side; /* key, side: NULL when none */
    size_t vlen, klen;
    int has_ts, raw; /* raw: val holds a line to decode, not codec bytes */
    int64_t ts;
} record;

typedef struct records {
    record *r;
    size_t n, cap;
} records;

struct eddy_feed {
    records rs;
    int live;
    eddy_feed_step_fn step;
    void *reader;
};

struct eddy_capture {
    records rs;
};

static void record_free(record *r) {
    free(r->val);
    free(r->key);
    free(r->side);
}

static record *records_push(records *rs) {
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        record *r = realloc(rs->r, cap * sizeof *r);
        if (r == NULL) return NULL;
        rs->r = r;
        rs->cap = cap;
    }
    record *r = &rs->r[rs->n];
    memset(r, 0, sizeof *r);
    return r;
}

static void records_truncate(records *rs, size_t n) {
    while (rs->n > n) record_free(&rs->r[--rs->n]);
}

/* Encodes the value at idx into a fresh block. [-0, +0, m] */
static char *encode(lua_State *L, int idx, const char *root, size_t *len,
                    char *err, size_t errlen) {
    eddy_buf b;
    eddy_buf_init(&b);
    if (eddy_codec_encode(L, idx, root, &b, err, errlen) != 0) {
        eddy_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}

/* ---- feeds ------------------------------------------------------------- */

eddy_feed *eddy_feed_new(int live) {
    eddy_feed *f = calloc(1, sizeof *f);
    if (f) f->live = live;
    return f;
}

void eddy_feed_free(eddy_feed *f) {
    if (f == NULL) return;
    records_truncate(&f->rs, 0);
    free(f->rs.r);
    free(f);
}

int eddy_feed_live(const eddy_feed *f) {
    return f->live;
}
size_t eddy_feed_count(const eddy_feed *f) {
    return f->rs.n;
}

int eddy_feed_add(eddy_feed *f, lua_State *L, int idx, int key, int has_ts,
                  int64_t ts, char *err, size_t errlen) {
    record *r = records_push(&f->rs);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->val = encode(L, idx, "event", &r->vlen, err, errlen);
    if (r->val == NULL) return -1;
    if (key &&
        (r->key = encode(L, key, "key", &r->klen, err, errlen)) == NULL) {
        free(r->val);
        return -1;
    }
    r->has_ts = has_ts;
    r->ts = ts;
    f->rs.n++;
    return 0;
}

int eddy_feed_add_raw(eddy_feed *f, const char *line, size_t len) {
    record *r = records_push(&f->rs);
    if (r == NULL || (r->val = malloc(len ? len : 1)) == NULL) return -1;
    memcpy(r->val, line, len);
    r->vlen = len;
    r->raw = 1;
    f->rs.n++;
    return 0;
}

int eddy_feed_raw(const eddy_feed *f, size_t i, const char **line,
                  size_t *len) {
    const record *r = &f->rs.r[i];
    *line = r->val;
    *len = r->vlen;
    return r->raw;
}

int eddy_feed_get(const eddy_feed *f, size_t i, lua_State *L, int *has_ts,
                  int64_t *ts, char *err, size_t errlen) {
    const record *r = &f->rs.r[i];
    if (eddy_codec_decode(L, r->val, r->vlen, err, errlen) != 0) return -1;
    if (r->key == NULL)
        lua_pushnil(L);
    else if (eddy_codec_decode(L, r->key, r->klen, err, errlen) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    *has_ts = r->has_ts;
    *ts = r->ts;
    return 0;
}

void eddy_feed_bind(eddy_feed *f, eddy_feed_step_fn step, void *reader) {
    f->step = step;
    f->reader = reader;
}

int eddy_feed_step(eddy_feed *f) {
    return f->step ? f->step(f->reader) : 0;
}

/* ---- captures ---------------------------------------------------------- */

eddy_capture *eddy_capture_new(void) {
    return calloc(1, sizeof(eddy_capture));
}

void eddy_capture_free(eddy_capture *c) {
    if (c == NULL) return;
    records_truncate(&c->rs, 0);
    free(c->rs.r);
    free(c);
}

size_t eddy_capture_count(const eddy_capture *c) {
    return c->rs.n;
}

void eddy_capture_truncate(eddy_capture *c, size_t n) {
    records_truncate(&c->rs, n);
}

int eddy_capture_add(eddy_capture *c, lua_State *L, int idx, const char *side,
                     char *err, size_t errlen) {
    record *r = records_push(&c->rs);
    if (r == NULL || (side && (r->side = strdup(side)) == NULL)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->val = encode(L, idx, "event", &r->vlen, err, errlen);
    if (r->val == NULL) {
        free(r->side);
        return -1;
    }
    c->rs.n++;
    return 0;
}

int eddy_capture_get(const eddy_capture *c, size_t i, lua_State *L,
                     const char **side, char *err, size_t errlen) {
    const record *r = &c->rs.r[i];
    *side = r->side;
    return eddy_codec_decode(L, r->val, r->vlen, err, errlen);
}

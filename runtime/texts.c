/* texts.c - the texts of the scripts a job runs, kept across restarts.
 *
 * Every script (the job file, operators, script sources) is read through
 * here. A text read from disk is a path's candidate; the job accepts it
 * once the code it holds runs (the job built, a hot reload swapped in).
 * A restart replays the accepted texts: it resumes the code that ran, so
 * a broken save that hot reload refused cannot stop the job at its next
 * restart. The store owns its copies; it outlives the job's Lua states.
 */
#include "texts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct text {
    char *path;
    eddy_buf running, candidate;
    int has_running, has_candidate;
    struct text *next;
} text;

struct eddy_texts {
    text *all;
    int replay;
};

eddy_texts *eddy_texts_new(void) {
    return calloc(1, sizeof(eddy_texts));
}

void eddy_texts_free(eddy_texts *t) {
    if (t == NULL) return;
    for (text *x = t->all, *next; x; x = next) {
        next = x->next;
        free(x->path);
        eddy_buf_free(&x->running);
        eddy_buf_free(&x->candidate);
        free(x);
    }
    free(t);
}

static text *find(eddy_texts *t, const char *path, int make) {
    for (text *x = t->all; x; x = x->next)
        if (strcmp(x->path, path) == 0) return x;
    if (!make) return NULL;
    text *x = calloc(1, sizeof *x);
    if (x == NULL || (x->path = strdup(path)) == NULL) {
        free(x);
        return NULL;
    }
    eddy_buf_init(&x->running);
    eddy_buf_init(&x->candidate);
    x->next = t->all;
    t->all = x;
    return x;
}

/* Appends the bytes of the file at path to out: 0, or -1 with err. */
static int read_file(const char *path, eddy_buf *out, char *err,
                     size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[16384];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = eddy_buf_add(out, chunk, n);
    if (rc == 0 && ferror(f)) rc = errno ? errno : EIO;
    if (rc != 0)
        snprintf(err, errlen, "cannot read %s: %s", path,
                 rc < 0 ? "out of memory" : strerror(rc));
    fclose(f);
    return rc != 0 ? -1 : 0;
}

static int copy(eddy_buf *to, const eddy_buf *from) {
    eddy_buf_reset(to);
    return eddy_buf_add(to, from->data, from->len);
}

int eddy_texts_read(eddy_texts *t, const char *path, eddy_buf *out, char *err,
                    size_t errlen) {
    text *x = t ? find(t, path, 0) : NULL;
    eddy_buf_reset(out);
    if (x && x->has_running && t->replay) {
        x->has_candidate = 0; /* one a refused reload left is not taken */
        if (copy(out, &x->running) == 0) return 0;
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (read_file(path, out, err, errlen) != 0) return -1;
    if (t == NULL) return 0;
    if ((x = find(t, path, 1)) == NULL || copy(&x->candidate, out) != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    x->has_candidate = 1;
    return 0;
}

void eddy_texts_replay(eddy_texts *t, int on) {
    if (t) t->replay = on;
}

void eddy_texts_accept(eddy_texts *t, const char *path) {
    for (text *x = t ? t->all : NULL; x; x = x->next) {
        if (!x->has_candidate || (path && strcmp(path, x->path) != 0)) continue;
        eddy_buf tmp = x->running;
        x->running = x->candidate;
        x->candidate = tmp;
        eddy_buf_reset(&x->candidate);
        x->has_running = 1;
        x->has_candidate = 0;
    }
}

int eddy_texts_stale(eddy_texts *t, const char *path) {
    text *x = t ? find(t, path, 0) : NULL;
    if (x == NULL || !x->has_running) return 0;
    char err[256];
    eddy_buf now;
    eddy_buf_init(&now);
    int stale = read_file(path, &now, err, sizeof err) != 0 ||
                now.len != x->running.len ||
                (now.len && memcmp(now.data, x->running.data, now.len) != 0);
    eddy_buf_free(&now);
    return stale;
}

uint64_t eddy_texts_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)(unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* lines.c - a line splitter over one growing buffer.
 *
 * Bytes are read straight into the buffer; lines are handed out as
 * pointers into it (no copy), and the unconsumed tail moves to the front
 * only when more room is needed. Invariant: data[head..len) are bytes not
 * yet handed out and base is the stream offset of data[0]. A line longer
 * than max_line (a CR before its newline not counted) is dropped (reported
 * once, with a copy of its first EDDY_LINES_PREFIX bytes) up to its
 * newline, so memory stays bounded by max_line + 1 + chunk whatever the
 * input. A UTF-8 byte order mark at stream offset 0 is left out of the
 * first line. */
#include "lines.h"

#include <stdlib.h>
#include <string.h>

struct eddy_lines {
    char *data;
    size_t cap, len, head;
    size_t scan; /* data[head..scan) is known to hold no '\n' */
    size_t max_line, chunk;
    uint64_t base; /* stream offset of data[0] */
    int eof;
    int dropping;      /* inside an over-long line */
    uint64_t drop_pos; /* where it started */
    uint64_t drop_len;
    char prefix[EDDY_LINES_PREFIX]; /* its first bytes */
    size_t prefix_len;
};

eddy_lines *eddy_lines_new(size_t max_line, size_t chunk) {
    eddy_lines *ls = calloc(1, sizeof *ls);
    if (ls == NULL) return NULL;
    ls->max_line = max_line ? max_line : 1;
    ls->chunk = chunk ? chunk : 65536;
    return ls;
}

void eddy_lines_free(eddy_lines *ls) {
    if (ls == NULL) return;
    free(ls->data);
    free(ls);
}

char *eddy_lines_space(eddy_lines *ls, size_t *n) {
    if (ls->head > 0 && ls->cap - ls->len < ls->chunk) {
        size_t keep = ls->len - ls->head;
        memmove(ls->data, ls->data + ls->head, keep);
        ls->base += ls->head;
        ls->scan -= ls->head;
        ls->len = keep;
        ls->head = 0;
    }
    if (ls->cap - ls->len < ls->chunk) {
        size_t cap = ls->len + ls->chunk;
        char *p = realloc(ls->data, cap);
        if (p == NULL) return NULL;
        ls->data = p;
        ls->cap = cap;
    }
    *n = ls->cap - ls->len;
    return ls->data + ls->len;
}

void eddy_lines_commit(eddy_lines *ls, size_t n) {
    ls->len += n;
}

void eddy_lines_finish(eddy_lines *ls) {
    ls->eof = 1;
}

uint64_t eddy_lines_offset(const eddy_lines *ls) {
    return ls->base + ls->head;
}

size_t eddy_lines_pending(const eddy_lines *ls) {
    return ls->len - ls->head;
}

void eddy_lines_reset(eddy_lines *ls, uint64_t offset) {
    ls->len = ls->head = ls->scan = 0;
    ls->base = offset;
    ls->eof = ls->dropping = 0;
}

/* Hands out data[head..end) as a line and moves past it (skip bytes). */
static int take(eddy_lines *ls, size_t end, size_t skip, const char **line,
                size_t *len, uint64_t *pos) {
    size_t n = end - ls->head, bom = 0;
    if (n > 0 && ls->data[end - 1] == '\r') n--;
    /* a UTF-8 byte order mark opening the input is no part of its text */
    if (ls->base + ls->head == 0 && n >= 3 &&
        memcmp(ls->data + ls->head, "\xEF\xBB\xBF", 3) == 0)
        bom = 3;
    *line = ls->data + ls->head + bom;
    *len = n - bom;
    *pos = ls->base + ls->head;
    ls->head = end + skip;
    ls->scan = ls->head;
    return EDDY_LINES_LINE;
}

size_t eddy_lines_prefix_len(const eddy_lines *ls) {
    return ls->prefix_len;
}

/* Starts dropping the line at head (end: how far it is buffered), keeping
 * its first bytes. */
static void drop_start(eddy_lines *ls, size_t end) {
    size_t n = end - ls->head;
    ls->prefix_len = n < EDDY_LINES_PREFIX ? n : EDDY_LINES_PREFIX;
    memcpy(ls->prefix, ls->data + ls->head, ls->prefix_len);
    ls->drop_pos = ls->base + ls->head;
    ls->drop_len = 0;
}

/* Ends an over-long line: reports it and skips to after its newline. */
static int drop_done(eddy_lines *ls, size_t end, const char **line, size_t *len,
                     uint64_t *pos) {
    *line = ls->prefix;
    ls->drop_len += end - ls->head;
    *pos = ls->drop_pos;
    *len = (size_t)ls->drop_len;
    ls->head = ls->scan = end < ls->len ? end + 1 : end;
    ls->dropping = 0;
    return EDDY_LINES_LONG;
}

int eddy_lines_next(eddy_lines *ls, const char **line, size_t *len,
                    uint64_t *pos) {
    char *nl = ls->len > ls->scan
                   ? memchr(ls->data + ls->scan, '\n', ls->len - ls->scan)
                   : NULL;
    if (nl != NULL) {
        size_t end = (size_t)(nl - ls->data);
        size_t cr = end > ls->head && ls->data[end - 1] == '\r';
        if (ls->dropping) return drop_done(ls, end, line, len, pos);
        if (end - ls->head - cr > ls->max_line) { /* a CR is not counted */
            drop_start(ls, end);
            return drop_done(ls, end, line, len, pos);
        }
        return take(ls, end, 1, line, len, pos);
    }
    ls->scan = ls->len;
    size_t have = ls->len - ls->head;
    if (ls->eof && (have > 0 || ls->dropping)) {
        if (ls->dropping || have > ls->max_line) {
            if (!ls->dropping) drop_start(ls, ls->len);
            return drop_done(ls, ls->len, line, len, pos);
        }
        return take(ls, ls->len, 0, line, len, pos);
    }
    if (have > ls->max_line + 1) { /* start or continue dropping (the +1:
                                      room for a CR before the newline) */
        if (!ls->dropping) {
            ls->dropping = 1;
            drop_start(ls, ls->len);
        }
        ls->drop_len += have;
        ls->head = ls->scan = ls->len;
    } else if (ls->dropping) {
        ls->drop_len += have;
        ls->head = ls->scan = ls->len;
    }
    return EDDY_LINES_MORE;
}

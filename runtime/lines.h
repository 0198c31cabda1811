/* lines.h - splits a byte stream into lines without copying them. */
#ifndef EDDY_LINES_H
#define EDDY_LINES_H

#include <stddef.h>
#include <stdint.h>

typedef struct eddy_lines eddy_lines;

enum {
    EDDY_LINES_MORE = 0, /* no complete line buffered: feed more */
    EDDY_LINES_LINE = 1, /* line and len hold one line: no '\n', and one
                            trailing '\r' removed (max_line counts it) */
    EDDY_LINES_LONG = 2  /* a line over max_line bytes was dropped; *pos is
                            where it started, *len its length, and *line
                            its first EDDY_LINES_PREFIX bytes (or fewer) */
};

/* How much of a dropped line is kept, to show what it was. */
#define EDDY_LINES_PREFIX 256
/* The kept beginning of the line EDDY_LINES_LONG reported: its length. */
size_t eddy_lines_prefix_len(const eddy_lines *ls);

/* max_line: longest line delivered; chunk: bytes asked for per read. */
eddy_lines *eddy_lines_new(size_t max_line, size_t chunk);
void eddy_lines_free(eddy_lines *ls);

/* Space to read into: at least *n bytes at the returned pointer (valid until
 * the next call on ls). NULL when out of memory. Lines handed out earlier
 * become invalid. */
char *eddy_lines_space(eddy_lines *ls, size_t *n);
/* Records that n bytes were read into the space. */
void eddy_lines_commit(eddy_lines *ls, size_t n);
/* Next line, see the enum. At end of input call eddy_lines_finish first so
 * the last line without a newline is delivered. *pos is the stream offset
 * of the line's first byte. */
int eddy_lines_next(eddy_lines *ls, const char **line, size_t *len,
                    uint64_t *pos);
/* Marks the end of input: a trailing partial line becomes a line. */
void eddy_lines_finish(eddy_lines *ls);
/* Offset just past the last line handed out (where a replay resumes). */
uint64_t eddy_lines_offset(const eddy_lines *ls);
/* Forgets buffered bytes and restarts counting at offset. */
void eddy_lines_reset(eddy_lines *ls, uint64_t offset);
/* Bytes buffered but not yet handed out as lines. */
size_t eddy_lines_pending(const eddy_lines *ls);

#endif

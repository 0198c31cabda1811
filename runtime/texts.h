/* texts.h - the texts of the scripts a job runs, kept across restarts. */
#ifndef EDDY_TEXTS_H
#define EDDY_TEXTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct eddy_texts eddy_texts;

/* An empty store; NULL when out of memory. */
eddy_texts *eddy_texts_new(void);
void eddy_texts_free(eddy_texts *t);

/* Puts the text to compile for path in out: while replaying, the text
 * that ran last for path if there is one; else the file's bytes, which
 * become path's candidate. t may be NULL (the file, nothing kept).
 * 0, or -1 with "cannot open PATH: reason" in err. */
int eddy_texts_read(eddy_texts *t, const char *path, eddy_buf *out, char *err,
                    size_t errlen);
/* Replay on: a restart resumes the code that ran, whatever is on disk. */
void eddy_texts_replay(eddy_texts *t, int on);
/* path's candidate (every path's, for NULL) is now the text that runs. */
void eddy_texts_accept(eddy_texts *t, const char *path);
/* 1 if path has a running text and the file no longer holds it. */
int eddy_texts_stale(eddy_texts *t, const char *path);

/* FNV-1a of s[0..n): which version of a script ran. */
uint64_t eddy_texts_hash(const char *s, size_t n);

#endif

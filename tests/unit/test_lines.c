/* Unit tests for the line splitter (lines.c). */
#include <stdlib.h>
#include <string.h>

#include "lines.h"
#include "tap.h"

/* Feeds s in pieces of step bytes; collects "line|" or "LONG@pos:len|". */
static void split(const char *s, size_t step, size_t max_line, char *out,
                  size_t outlen) {
    eddy_lines *ls = eddy_lines_new(max_line, 16);
    size_t n = strlen(s), off = 0, o = 0;
    out[0] = '\0';
    for (int done = 0; !done;) {
        if (off < n) {
            size_t room;
            char *p = eddy_lines_space(ls, &room);
            size_t k = n - off < step ? n - off : step;
            if (k > room) k = room;
            memcpy(p, s + off, k);
            eddy_lines_commit(ls, k);
            off += k;
        } else {
            eddy_lines_finish(ls);
            done = 1;
        }
        const char *line;
        size_t len;
        uint64_t pos;
        int r;
        while ((r = eddy_lines_next(ls, &line, &len, &pos)) !=
               EDDY_LINES_MORE) {
            if (r == EDDY_LINES_LINE)
                o += (size_t)snprintf(out + o, outlen - o, "%.*s@%llu|",
                                      (int)len, line, (unsigned long long)pos);
            else
                o += (size_t)snprintf(out + o, outlen - o, "LONG@%llu:%zu|",
                                      (unsigned long long)pos, len);
        }
    }
    eddy_lines_free(ls);
}

int main(void) {
    char out[4096];
    size_t steps[] = {1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        split("ab\ncd\n\nef", steps[i], 100, out, sizeof out);
        TAP_STREQ(out, "ab@0|cd@3|@6|ef@7|",
                  "lines, empty line and last line without newline (step %zu)",
                  steps[i]);
        split("a\r\nb\r\n", steps[i], 100, out, sizeof out);
        TAP_STREQ(out, "a@0|b@3|", "CRLF loses the CR (step %zu)", steps[i]);
        split("short\nthis-line-is-too-long\nok\n", steps[i], 8, out,
              sizeof out);
        TAP_STREQ(out, "short@0|LONG@6:21|ok@28|",
                  "an over-long line is dropped and reported once (step %zu)",
                  steps[i]);
        split("ok\nway-too-long-at-the-end", steps[i], 8, out, sizeof out);
        TAP_STREQ(out, "ok@0|LONG@3:23|",
                  "an over-long last line without newline (step %zu)",
                  steps[i]);
        split("exactly8\r\nnine-byte\r\n", steps[i], 8, out, sizeof out);
        TAP_STREQ(out, "exactly8@0|LONG@10:10|",
                  "the CR of a CRLF line is not counted against max_line "
                  "(step %zu)",
                  steps[i]);
        split("\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBFx\n", steps[i], 100, out,
              sizeof out);
        TAP_STREQ(out, "{\"a\":1}@0|\xEF\xBB\xBFx@11|",
                  "a byte order mark opening the input is dropped, and only "
                  "there (step %zu)",
                  steps[i]);
    }
    split("", 4, 10, out, sizeof out);
    TAP_STREQ(out, "", "empty input gives no lines");
    split("\n", 4, 10, out, sizeof out);
    TAP_STREQ(out, "@0|", "a lone newline is one empty line");
    split("exactly8\n", 3, 8, out, sizeof out);
    TAP_STREQ(out, "exactly8@0|", "a line of exactly max_line bytes is kept");

    /* offsets: where a replay resumes */
    eddy_lines *ls = eddy_lines_new(100, 16);
    size_t room;
    char *p = eddy_lines_space(ls, &room);
    memcpy(p, "one\ntwo\nthr", 11);
    eddy_lines_commit(ls, 11);
    const char *line;
    size_t len;
    uint64_t pos;
    eddy_lines_next(ls, &line, &len, &pos);
    TAP_OK(eddy_lines_offset(ls) == 4, "offset after the first line is 4");
    eddy_lines_next(ls, &line, &len, &pos);
    TAP_OK(eddy_lines_offset(ls) == 8 && eddy_lines_pending(ls) == 3,
           "offset 8 with 3 bytes of a partial line pending");
    TAP_OK(eddy_lines_next(ls, &line, &len, &pos) == EDDY_LINES_MORE,
           "a partial line waits for its newline");
    eddy_lines_reset(ls, 1000);
    p = eddy_lines_space(ls, &room);
    memcpy(p, "x\n", 2);
    eddy_lines_commit(ls, 2);
    eddy_lines_next(ls, &line, &len, &pos);
    TAP_OK(pos == 1000 && eddy_lines_offset(ls) == 1002,
           "reset restarts positions at the given offset");
    eddy_lines_free(ls);

    /* memory stays bounded on a huge line */
    ls = eddy_lines_new(64, 16);
    for (int i = 0; i < 10000; i++) {
        p = eddy_lines_space(ls, &room);
        memset(p, 'x', room);
        eddy_lines_commit(ls, room);
        while (eddy_lines_next(ls, &line, &len, &pos) != EDDY_LINES_MORE) {
        }
    }
    TAP_OK(eddy_lines_pending(ls) <= 64 + 16,
           "a never-ending line keeps the buffer bounded (%zu pending)",
           eddy_lines_pending(ls));
    eddy_lines_free(ls);

    /* a dropped line keeps its first EDDY_LINES_PREFIX bytes */
    char big[1000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    big[sizeof big - 1] = '\n';
    const size_t feeds[] = {7, 100, 999, 1000};
    for (size_t k = 0; k < sizeof feeds / sizeof feeds[0]; k++) {
        ls = eddy_lines_new(300, 64);
        size_t off = 0;
        int r = EDDY_LINES_MORE;
        while (r == EDDY_LINES_MORE && off < sizeof big) {
            size_t n =
                sizeof big - off < feeds[k] ? sizeof big - off : feeds[k];
            p = eddy_lines_space(ls, &room);
            if (n > room) n = room;
            memcpy(p, big + off, n);
            eddy_lines_commit(ls, n);
            off += n;
            r = eddy_lines_next(ls, &line, &len, &pos);
        }
        TAP_OK(r == EDDY_LINES_LONG && len == 999 && pos == 0 &&
                   eddy_lines_prefix_len(ls) == EDDY_LINES_PREFIX &&
                   memcmp(line, big, EDDY_LINES_PREFIX) == 0,
               "a dropped line (fed %zu bytes at a time) reports its length "
               "and its first %d bytes",
               feeds[k], EDDY_LINES_PREFIX);
        eddy_lines_free(ls);
    }
    ls = eddy_lines_new(4, 64);
    p = eddy_lines_space(ls, &room);
    memcpy(p, "abcdefg\n", 8);
    eddy_lines_commit(ls, 8);
    TAP_OK(eddy_lines_next(ls, &line, &len, &pos) == EDDY_LINES_LONG &&
               len == 7 && eddy_lines_prefix_len(ls) == 7 &&
               memcmp(line, "abcdefg", 7) == 0,
           "a short dropped line is kept whole");
    eddy_lines_free(ls);
    return tap_done();
}

/* fuzz_lines.c - libFuzzer target for the line splitter (runtime/lines.c).
 *
 * Input: byte 0 picks max_line (0..32; 0 means 1), byte 1 the read chunk
 * (0..16; 0 means the default 64 KiB), the rest is the stream. It is fed
 * in pieces whose sizes come from a generator seeded with the input, from
 * a stream offset that may not be 0, with up to 4 replays (reset to the
 * offset after a line, then the bytes from there fed again).
 *
 * Every event is checked against a model: the stream splits at each '\n';
 * a piece longer than max_line (not counting a '\r' before its '\n'; a
 * last piece without '\n' counts all its bytes) is one LONG event with its
 * start and full length, any other piece is one LINE event (its bytes, one
 * trailing '\r' removed, and a UTF-8 byte order mark at stream offset 0);
 * a last piece without '\n' comes only after eddy_lines_finish. So lines
 * never hold '\n', are at most max_line long, positions increase, no bytes
 * are lost or invented, the offset is always right, and the buffer stays
 * within max_line + 1 + chunk. */
#include "lines.h"

#include "fuzz_common.h"

static int fz_lines_check(const uint8_t *data, size_t size) {
    size_t hdr = size < 2 ? size : 2;
    size_t ml = size > 0 ? data[0] % 33 : 8, ch = size > 1 ? data[1] % 17 : 4;
    size_t max_line = ml ? ml : 1, chunk = ch ? ch : 65536;
    const char *s = (const char *)data + hdr;
    size_t n = size - hdr;
    fz_rng rng;
    fz_rng_seed(&rng, data, size);
    uint64_t base =
        fz_rng_next(&rng) % 2 ? 0 : (uint64_t)fz_rng_next(&rng) << 24;

    eddy_lines *ls = eddy_lines_new(ml, ch);
    FZ_CHECK(ls != NULL);
    if (base) eddy_lines_reset(ls, base);
    FZ_CHECK(eddy_lines_offset(ls) == base && eddy_lines_pending(ls) == 0);
    size_t fed = 0; /* stream bytes committed so far */
    size_t cur = 0; /* where the next expected piece starts */
    int finished = 0, resets = 0;
    for (;;) {
        if (fed < n) {
            size_t room = 0;
            char *p = eddy_lines_space(ls, &room);
            FZ_CHECK(p != NULL);
            FZ_CHECKM(room >= chunk && room <= max_line + 1 + chunk,
                      "the buffer outgrew max_line + 1 + chunk");
            uint32_t r = fz_rng_next(&rng);
            size_t k = r % 8 == 0 ? room : 1 + (r >> 3) % room;
            if (k > n - fed) k = n - fed;
            memcpy(p, s + fed, k);
            eddy_lines_commit(ls, k);
            fed += k;
        } else {
            eddy_lines_finish(ls);
            finished = 1;
        }
        const char *line = NULL;
        size_t len = 0;
        uint64_t pos = 0;
        int rc;
        while ((rc = eddy_lines_next(ls, &line, &len, &pos)) !=
               EDDY_LINES_MORE) {
            FZ_CHECK(rc == EDDY_LINES_LINE || rc == EDDY_LINES_LONG);
            const char *nl = memchr(s + cur, '\n', fed - cur);
            size_t end = nl ? (size_t)(nl - s) : fed, raw = end - cur;
            size_t cr = raw > 0 && s[end - 1] == '\r';
            size_t counted = nl ? raw - cr : raw; /* against max_line */
            size_t bom = base + cur == 0 && raw - cr >= 3 &&
                         memcmp(s + cur, "\xEF\xBB\xBF", 3) == 0
                             ? 3
                             : 0;
            FZ_CHECKM(nl != NULL || finished,
                      "a line was handed out before its newline");
            FZ_CHECKM(nl != NULL || raw > 0, "an event after the last byte");
            FZ_CHECKM(pos == base + cur, "wrong position");
            if (rc == EDDY_LINES_LINE) {
                size_t want = raw - cr - bom;
                FZ_CHECKM(counted <= max_line,
                          "an over-long line was delivered");
                FZ_CHECKM(len == want, "wrong line length");
                FZ_CHECK(len <= max_line);
                FZ_CHECK(len == 0 || line != NULL);
                FZ_CHECKM(len == 0 || memchr(line, '\n', len) == NULL,
                          "a line holds a newline");
                FZ_CHECKM(len == 0 || memcmp(line, s + cur + bom, len) == 0,
                          "a line's bytes differ from the input");
            } else {
                FZ_CHECKM(counted > max_line,
                          "a short line was reported LONG");
                FZ_CHECKM(len == raw, "wrong length of a dropped line");
            }
            cur = nl ? end + 1 : end;
            FZ_CHECKM(eddy_lines_offset(ls) == base + cur,
                      "wrong offset after a line");
            if (!finished && resets < 4 && fz_rng_next(&rng) % 16 == 0) {
                eddy_lines_reset(ls, base + cur); /* replay from the offset */
                FZ_CHECK(eddy_lines_offset(ls) == base + cur);
                FZ_CHECK(eddy_lines_pending(ls) == 0);
                fed = cur;
                resets++;
            }
        }
        /* MORE: every complete line is out; a partial one is pending, or
         * it is over-long and being dropped. */
        size_t have = fed - cur;
        int dropping = have > max_line + 1; /* + 1: room for a '\r' */
        FZ_CHECKM(memchr(s + cur, '\n', have) == NULL,
                  "MORE while a complete line is buffered");
        FZ_CHECKM(eddy_lines_pending(ls) == (dropping ? 0 : have),
                  "wrong pending count");
        FZ_CHECKM(eddy_lines_offset(ls) == base + (dropping ? fed : cur),
                  "wrong offset while waiting");
        if (finished) {
            FZ_CHECKM(cur == n, "bytes left unaccounted at the end");
            FZ_CHECK(eddy_lines_next(ls, &line, &len, &pos) == EDDY_LINES_MORE);
            FZ_CHECK(eddy_lines_offset(ls) == base + n);
            break;
        }
    }
    eddy_lines_free(ls);
    return 0;
}

#ifndef FZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fz_lines_check(data, size);
}
#endif

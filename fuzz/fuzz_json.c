/* fuzz_json.c - libFuzzer target for the JSON decoder (runtime/json.c).
 *
 * The input is one document. Decoding either fails, leaving the stack as
 * it was with "message at byte N" (N within the input) in err, or pushes
 * exactly one value. A decoded value must encode (the decoder only makes
 * values the encoder takes, but for keys differing only in ill-formed
 * UTF-8) to one line of valid UTF-8 without control bytes; that text must
 * decode again and encode to the very same bytes. Decoding with no err
 * buffer must give the same answer. */
#include "buf.h"
#include "json.h"

#include "fuzz_common.h"

#define FZ_JSON_ERRLEN 256

/* Encodes the value on top into b (reset first); 0 or -1 with err. */
static int fz_json_encode_top(lua_State *L, eddy_buf *b, char *err) {
    int top = lua_gettop(L);
    b->len = 0;
    err[0] = '\0';
    int rc = eddy_json_encode(L, -1, b, err, FZ_JSON_ERRLEN);
    FZ_CHECKM(lua_gettop(L) == top, "encode unbalanced the stack");
    FZ_CHECK(rc == 0 || rc == -1);
    return rc;
}

static int fz_json_check(lua_State *L, const uint8_t *data, size_t size) {
    char *err = malloc(FZ_JSON_ERRLEN); /* heap: ASan sees overruns */
    eddy_buf b1, b2;
    FZ_CHECK(err != NULL);
    eddy_buf_init(&b1);
    eddy_buf_init(&b2);
    lua_settop(L, 0);
    FZ_CHECK(lua_checkstack(L, 8));
    int top = lua_gettop(L);
    memset(err, 0, FZ_JSON_ERRLEN);
    int rc = eddy_json_decode(L, (const char *)data, size, err, FZ_JSON_ERRLEN);
    FZ_CHECK(rc == 0 || rc == -1);
    int rc0 = eddy_json_decode(L, (const char *)data, size, NULL, 0);
    FZ_CHECKM(rc0 == rc, "the answer depends on the err buffer");
    if (rc0 == 0) lua_pop(L, 1);
    if (rc != 0) {
        FZ_CHECKM(lua_gettop(L) == top, "a failed decode left values");
        FZ_CHECKM(err[0] != '\0', "a failed decode gave no message");
        FZ_CHECK(memchr(err, '\0', FZ_JSON_ERRLEN) != NULL);
        const char *at = NULL;
        for (const char *q = strstr(err, " at byte "); q;
             q = strstr(q + 1, " at byte "))
            at = q;
        FZ_CHECKM(at != NULL, err);
        char *stop = NULL;
        unsigned long long off = strtoull(at + 9, &stop, 10);
        FZ_CHECKM(stop != at + 9 && *stop == '\0', err);
        FZ_CHECKM(off <= size, err);
        goto done;
    }
    FZ_CHECKM(lua_gettop(L) == top + 1, "decode did not push one value");
    rc = fz_json_encode_top(L, &b1, err);
    /* whatever decodes must encode, but for two keys that differ only in
     * ill-formed UTF-8, which the encoder would write alike */
    if (rc != 0 && strstr(err, "two keys encode as")) goto done;
    FZ_CHECKM(rc == 0, err);
    for (size_t i = 0; i < b1.len; i++)
        FZ_CHECKM((unsigned char)b1.data[i] >= 0x20,
                  "encoded JSON holds a control byte");
    FZ_CHECKM(eddy_json_utf8_valid(b1.data, b1.len),
              "encoded JSON is not valid UTF-8");
    rc = eddy_json_decode(L, b1.data, b1.len, err, FZ_JSON_ERRLEN);
    FZ_CHECKM(rc == 0, err); /* what we encode must decode */
    FZ_CHECK(lua_gettop(L) == top + 2);
    rc = fz_json_encode_top(L, &b2, err);
    FZ_CHECKM(rc == 0, err);
    FZ_CHECKM(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
              "decode(encode(v)) encodes to other bytes");
done:
    lua_settop(L, 0);
    eddy_buf_free(&b1);
    eddy_buf_free(&b2);
    free(err);
    return 0;
}

#ifndef FZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fz_run_lua(fz_json_check, data, size);
}
#endif

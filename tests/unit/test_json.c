/* test_json.c - unit tests for runtime/json.c (decoder and encoder). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "tap.h"

static lua_State *L;
static eddy_buf B;
static char err[256];

/* A printable, shortened copy of s for test names. */
static const char *show(const char *s) {
    static char out[4][48];
    static int k;
    char *o = out[k++ % 4];
    size_t n = 0;
    for (; *s && n < 40; s++)
        n +=
            (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f
                ? (size_t)snprintf(o + n, 48 - n, "%c", *s)
                : (size_t)snprintf(o + n, 48 - n, "\\x%02x", (unsigned char)*s);
    return o;
}

/* Decodes s[0..n); checks the stack grew by one on success, not at all on
 * failure. Returns the decoder's result. */
static int decn(const char *s, size_t n) {
    int top = lua_gettop(L);
    err[0] = '\0';
    int rc = eddy_json_decode(L, s, n, err, sizeof err);
    TAP_OK(lua_gettop(L) == top + (rc == 0), "stack after decoding %s",
           show(s));
    return rc;
}

static int dec(const char *s) {
    return decn(s, strlen(s));
}

/* Encodes and pops the top value; returns its text or NULL (err set). */
static const char *enc(void) {
    int top = lua_gettop(L);
    eddy_buf_reset(&B);
    err[0] = '\0';
    int rc = eddy_json_encode(L, -1, &B, err, sizeof err);
    TAP_OK(lua_gettop(L) == top, "stack balanced after encoding");
    lua_pop(L, 1);
    if (rc != 0) return NULL;
    eddy_buf_addc(&B, '\0');
    B.len--;
    return B.data;
}

/* Encodes the value of a Lua expression. */
static const char *enc_lua(const char *expr) {
    char code[4096];
    snprintf(code, sizeof code, "return %s", expr);
    if (luaL_dostring(L, code) != 0) {
        printf("# lua error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return NULL;
    }
    return enc();
}

/* Decodes in, encodes the result, compares with want (in if NULL). */
static void roundtrip(const char *in, const char *want) {
    if (dec(in) != 0) {
        TAP_OK(0, "decode %s: %s", show(in), err);
        return;
    }
    TAP_STREQ(enc(), want ? want : in, "round trip %s", show(in));
}

static void dec_err(const char *in, const char *want) {
    int rc = dec(in);
    TAP_OK(rc == -1, "decode refuses %s", show(in));
    TAP_STREQ(err, want, "error message for %s", show(in));
}

static void enc_err(const char *expr, const char *want) {
    const char *got = enc_lua(expr);
    TAP_OK(got == NULL, "encode refuses %s", show(expr));
    TAP_STREQ(err, want, "error message for %s", show(expr));
}

static void test_integers(void) {
    static const struct {
        const char *text;
        lua_Integer v;
    } ints[] = {{"0", 0},
                {"-0", 0},
                {"7", 7},
                {"-45", -45},
                {"1700000000123", 1700000000123},
                {"9223372036854775807", INT64_MAX},
                {"-9223372036854775808", INT64_MIN}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (dec(ints[i].text) != 0) continue;
        TAP_OK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == ints[i].v,
               "%s decodes to an integer", ints[i].text);
        lua_pop(L, 1);
    }
    static const char *big[] = {"9223372036854775808", "-9223372036854775809",
                                "123456789012345678901234567890"};
    for (size_t i = 0; i < 3; i++) {
        if (dec(big[i]) != 0) continue;
        TAP_OK(!lua_isinteger(L, -1) &&
                   lua_tonumber(L, -1) == strtod(big[i], NULL),
               "%s decodes to a float", big[i]);
        lua_pop(L, 1);
    }
    TAP_STREQ(enc_lua("math.maxinteger"), "9223372036854775807", "maxinteger");
    TAP_STREQ(enc_lua("math.mininteger"), "-9223372036854775808", "mininteger");
    TAP_STREQ(enc_lua("{0, -1, 10, 99, 100, -1234567}"),
              "[0,-1,10,99,100,-1234567]", "small integers");
    roundtrip("[1700000000123,-9223372036854775808]", NULL);
}

/* Integers of every length, both signs, as values (flat) and as keys. */
static void test_integer_lengths(void) {
    int bad = 0;
    uint64_t p = 1;
    for (int k = 0; k <= 19; k++, p *= 10) {
        for (int d = -1; d <= 1; d++) {
            lua_Integer v = (lua_Integer)(p + (uint64_t)d);
            for (int sign = 0; sign < 2; sign++, v = -v) {
                char want[64];
                snprintf(want, sizeof want, "{\"x\":%lld}", (long long)v);
                lua_createtable(L, 0, 1);
                lua_pushinteger(L, v);
                lua_setfield(L, -2, "x");
                const char *got = enc();
                bad += got == NULL || strcmp(got, want) != 0;
                snprintf(want, sizeof want, "{\"%lld\":%lld,\"x\":true}",
                         (long long)v, (long long)v);
                lua_createtable(L, 0, 2);
                lua_pushinteger(L, v);
                lua_pushinteger(L, v);
                lua_rawset(L, -3);
                lua_pushboolean(L, 1);
                lua_setfield(L, -2, "x");
                got = enc();
                bad += got == NULL || strcmp(got, want) != 0;
            }
        }
    }
    TAP_OK(bad == 0, "integers of 1..19 digits, and wrapped (%d bad)", bad);
}

static void test_floats(void) {
    static const char *texts[] = {"1.5",
                                  "1e3",
                                  "1E+2",
                                  "2.5e-3",
                                  "-0.0",
                                  "0.1",
                                  "1e-7",
                                  "3.141592653589793238462643383279",
                                  "1.7976931348623157e308",
                                  "5e-324",
                                  "2.2250738585072014e-308",
                                  "123456789012345678e-10",
                                  "0.000000000000000000000000000001",
                                  "9007199254740993.0",
                                  "1e-400"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (dec(texts[i]) != 0) continue;
        double want = strtod(texts[i], NULL), got = lua_tonumber(L, -1);
        TAP_OK(!lua_isinteger(L, -1) && got == want &&
                   signbit(got) == signbit(want),
               "%s decodes to the float strtod gives", texts[i]);
        lua_pop(L, 1);
    }
    TAP_STREQ(enc_lua("3.0"), "3.0", "3.0 keeps its point");
    TAP_STREQ(enc_lua("-0.0"), "-0.0", "negative zero");
    TAP_STREQ(enc_lua("0.1"), "0.1", "0.1 in shortest form");
    TAP_STREQ(enc_lua("1/3"), "0.3333333333333333", "1/3 in 16 digits");
    TAP_STREQ(enc_lua("1e300"), "1e+300", "exponent form");
    TAP_STREQ(enc_lua("2^63"), "9.223372036854776e+18", "2^63 as float");
    TAP_STREQ(enc_lua("{0.0001, 0.05, 19.99, -123.456, 1e14, 0.1 + 0.2}"),
              "[0.0001,0.05,19.99,-123.456,100000000000000.0,"
              "0.30000000000000004]",
              "fixed-point floats");
    TAP_STREQ(enc_lua("{9e-5, 1e15, 5e-324, 1.7976931348623157e308}"),
              "[9e-05,1e+15,4.94065645841247e-324,1.7976931348623157e+308]",
              "exponent-form floats");
    roundtrip("[1.0,1e3,0.5,-2.25]", "[1.0,1000.0,0.5,-2.25]");
}

static void test_float_roundtrip(void) {
    /* Every float reads back exactly, as a float, in at most 24 bytes. */
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t bits =
            (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
        double x;
        memcpy(&x, &bits, sizeof x);
        if (i % 2) x = ldexp(x, -(i % 64)); /* around 1e-4 .. 1e15 */
        if (i % 3 == 0) x = (double)(rand() % 100000) / pow(10, i % 9);
        if (!isfinite(x)) continue;
        lua_pushnumber(L, x);
        eddy_buf_reset(&B);
        if (eddy_json_encode(L, -1, &B, err, sizeof err) != 0) {
            bad++;
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        if (eddy_json_decode(L, B.data, B.len, err, sizeof err) != 0 ||
            lua_isinteger(L, -1) || lua_tonumber(L, -1) != x || B.len > 24) {
            if (bad++ < 5) printf("# %.17g -> %.*s\n", x, (int)B.len, B.data);
        }
        bad += lua_gettop(L) != 1;
        lua_settop(L, 0);
    }
    TAP_OK(bad == 0, "200000 random floats read back exactly (%d bad)", bad);
    dec_err("1e400", "number out of range at byte 0");
    dec_err("[-1e999999999999]", "number out of range at byte 1");
}

static void test_strings(void) {
    const char want[] = "\"\\/\b\f\n\r\t";
    if (dec("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"") == 0) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        TAP_OK(n == 8 && memcmp(s, want, 8) == 0, "simple escapes");
        lua_pop(L, 1);
    }
    if (dec("\"\\u0041\\u00e9\\u00E9\\u20ac\\ud83d\\ude00\\u0000x\"") == 0) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        const char u[] = "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0x";
        TAP_OK(n == sizeof u - 1 && memcmp(s, u, n) == 0,
               "\\u escapes and a surrogate pair become UTF-8");
        lua_pop(L, 1);
    }
    roundtrip("\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"", NULL);
    roundtrip("\"\\u00e9\\/\"", "\"\xc3\xa9/\"");
    roundtrip("\"a\\u0001\\u001f\\u007f\"", "\"a\\u0001\\u001f\x7f\"");
    TAP_STREQ(enc_lua("'q\"b\\\\n\\n t\\t r\\r \\b\\f \\0 \\x1b \\x7f'"),
              "\"q\\\"b\\\\n\\n t\\t r\\r \\b\\f \\u0000 \\u001b \x7f\"",
              "encoder escapes");
    TAP_STREQ(enc_lua("'\\xff\\xfe raw'"), "\"\xef\xbf\xbd\xef\xbf\xbd raw\"",
              "stray high bytes become U+FFFD, one each");
    dec_err("\"\\ud800\"", "lone surrogate \\ud800 at byte 1");
    dec_err("\"\\udc00\"", "lone surrogate \\udc00 at byte 1");
    dec_err("\"ab\\ud83dx\"", "lone surrogate \\ud83d at byte 3");
    dec_err("\"\\ud83d\\u0041\"", "lone surrogate \\ud83d at byte 1");
    dec_err("\"\\u12G4\"", "invalid \\u escape at byte 1");
    dec_err("\"\\u12\"", "invalid \\u escape at byte 1");
    /* A long string grows the luaL_Buffer into a box; failing after that
     * must still restore the stack. */
    char big[6000];
    memset(big, 'a', sizeof big);
    big[0] = '"';
    memcpy(big + 10, "\\n", 2);
    memcpy(big + 5990, "\\q\"", 4);
    dec_err(big, "invalid escape '\\q' at byte 5990");
    big[5991] = 'n';
    if (dec(big) == 0) {
        TAP_OK(lua_rawlen(L, -1) == 5989, "long escaped string decodes");
        lua_pop(L, 1);
    }
}

static void test_null(void) {
    if (dec("null") == 0) {
        TAP_OK(lua_type(L, -1) == LUA_TLIGHTUSERDATA &&
                   lua_touserdata(L, -1) == NULL,
               "null is a NULL light userdata");
        TAP_STREQ(enc(), "null", "and encodes back as null");
    }
    TAP_STREQ(enc_lua("nil"), "null", "nil encodes as null");
    roundtrip("[null,1,null]", NULL);
    roundtrip("{\"a\":null}", NULL);
    lua_pushlightuserdata(L, &B);
    TAP_OK(enc() == NULL && strcmp(err, "cannot encode a userdata") == 0,
           "a non-NULL light userdata is refused");
    lua_newuserdatauv(L, 8, 0);
    TAP_OK(enc() == NULL && strcmp(err, "cannot encode a userdata") == 0,
           "a full userdata is refused");
}

static void test_containers(void) {
    roundtrip("{\"a\":[1,2,{\"b\":null}],\"c\":{\"d\":[[]],\"e\":{}}}", NULL);
    roundtrip("[]", NULL);
    roundtrip("{}", NULL);
    roundtrip("[[],{},[{}],{\"x\":[]}]", NULL);
    roundtrip(" \t\r\n[ 1 , { \"a\" : true } , false ]\n ",
              "[1,{\"a\":true},false]");
    if (dec("[]") == 0) {
        lua_getmetatable(L, -1);
        eddy_json_push_array_mt(L);
        TAP_OK(lua_rawequal(L, -1, -2), "[] carries the array metatable");
        lua_pop(L, 3);
    }
    TAP_STREQ(enc_lua("{}"), "{}", "an empty table is an object");
    eddy_json_push_array_mt(L);
    lua_setglobal(L, "amt");
    TAP_STREQ(enc_lua("setmetatable({}, amt)"), "[]", "... unless marked");
    TAP_STREQ(enc_lua("{1, 2, 3}"), "[1,2,3]", "a sequence is an array");
    TAP_STREQ(enc_lua("{a = {}, b = {{}, {}}}"), "{\"a\":{},\"b\":[{},{}]}",
              "nested empties");
    TAP_STREQ(
        enc_lua("(function() local t = {1}; return {t, t, {x = t}} end)()"),
        "[[1],[1],{\"x\":[1]}]", "a shared table is not a cycle");
}

/* Containers larger than the staging chunk, duplicate keys. */
static void test_big_containers(void) {
    char text[8000];
    size_t n = 0;
    text[n++] = '[';
    for (int i = 1; i <= 1000; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%d",
                              i > 1 ? "," : "", i);
    text[n++] = ']';
    if (decn(text, n) == 0) {
        int ok = lua_rawlen(L, -1) == 1000;
        for (int i = 1; i <= 1000 && ok; i++) {
            ok = lua_rawgeti(L, -1, i) == LUA_TNUMBER &&
                 lua_tointeger(L, -1) == i;
            lua_pop(L, 1);
        }
        TAP_OK(ok, "a 1000-element array decodes in order");
        lua_pop(L, 1);
    }
    n = 0;
    text[n++] = '{';
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "\"k%d\":%d,", i % 70,
                              i);
    memcpy(text + n - 1, "}", 2);
    if (dec(text) == 0) {
        int ok = 1;
        for (int i = 0; i < 70 && ok; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%d", i);
            lua_getfield(L, -1, k);
            ok = lua_tointeger(L, -1) == (i < 30 ? i + 70 : i);
            lua_pop(L, 1);
        }
        TAP_OK(ok, "duplicate keys: the last one wins across chunks");
        lua_pop(L, 1);
    }
}

static void test_key_order(void) {
    TAP_STREQ(enc_lua("{b = 1, a = 2, B = 3, aa = 4, [''] = 5, ['\\xff'] = 6}"),
              "{\"\":5,\"B\":3,\"a\":2,\"aa\":4,\"b\":1,\"\xef\xbf\xbd\":6}",
              "keys sorted bytewise, shorter prefix first");
    /* Same keys inserted in opposite orders, for 10, 100 and 1000 keys
     * (inline sort, qsort, userdata scratch). */
    static const int sizes[] = {10, 100, 1000};
    for (int s = 0; s < 3; s++) {
        char code[512];
        snprintf(code, sizeof code,
                 "local a, b = {}, {}\n"
                 "for i = 1, %d do a['k' .. i] = i end\n"
                 "for i = %d, 1, -1 do b['k' .. i] = i end\n"
                 "b.k1 = nil; b.k1 = 1\n"
                 "return {x = a, y = {b}}, {y = {a}, x = b}",
                 sizes[s], sizes[s]);
        (void)luaL_dostring(L, code);
        const char *one = enc();
        char *first = one ? strdup(one) : NULL;
        const char *two = enc();
        TAP_OK(first && two && strcmp(first, two) == 0,
               "%d keys: same bytes whatever the insertion order", sizes[s]);
        free(first);
    }
}

static void test_mixed_keys(void) {
    TAP_STREQ(enc_lua("{1, 2, x = 3}"), "{\"1\":1,\"2\":2,\"x\":3}",
              "array part plus a string key is an object");
    TAP_STREQ(enc_lua("{[1] = 'a', [3] = 'c'}"), "{\"1\":\"a\",\"3\":\"c\"}",
              "holes make an object");
    TAP_STREQ(enc_lua("{[1] = 1, [3] = 3, x = 1}"), "{\"1\":1,\"3\":3,\"x\":1}",
              "holes plus a key: object");
    TAP_STREQ(enc_lua("{[0] = 0, [-5] = 1, [1.5] = 2, [2^70] = 3}"),
              "{\"-5\":1,\"0\":0,\"1.1805916207174113e+21\":3,\"1.5\":2}",
              "number keys are stringified");
    TAP_STREQ(enc_lua("{[true] = 1, [false] = 2}"), "{\"false\":2,\"true\":1}",
              "boolean keys");
    enc_err("{[1] = 'a', ['1'] = 'b'}", "two keys encode as \"1\"");
    enc_err("{[true] = 1, ['true'] = 2}", "two keys encode as \"true\"");
    enc_err("{[{}] = 1}", "cannot encode a table key");
    enc_err("{[print] = 1}", "cannot encode a function key");
}

static void test_decode_errors(void) {
    dec_err("", "empty input at byte 0");
    dec_err("  \n", "empty input at byte 3");
    dec_err("{\"a\":1",
            "unexpected end of input, expected ',' or '}' at byte 6");
    dec_err("[1,2", "unexpected end of input, expected ',' or ']' at byte 4");
    dec_err("[1,", "unexpected end of input, expected a value at byte 3");
    dec_err("{\"a\"", "unexpected end of input, expected ':' at byte 4");
    dec_err("[1,\"ab", "unterminated string at byte 3");
    dec_err("\"ab\\", "unterminated string at byte 0");
    dec_err("tru", "invalid literal at byte 0");
    dec_err("[nul]", "invalid literal at byte 1");
    dec_err("[truex]",
            "unexpected character 'x', expected ',' or ']' at byte 5");
    dec_err("1 2", "trailing garbage after the document at byte 2");
    dec_err("{} x", "trailing garbage after the document at byte 3");
    dec_err("\"a\nb\"", "control character 0x0a in string at byte 2");
    dec_err("\"a\tb\"", "control character 0x09 in string at byte 2");
    dec_err("\"\\x\"", "invalid escape '\\x' at byte 1");
    dec_err("\"\\\x01\"", "invalid escape at byte 1");
    dec_err("01", "leading zero in number at byte 0");
    dec_err("[-012]", "leading zero in number at byte 1");
    dec_err("-", "invalid number at byte 0");
    dec_err("1.", "invalid number at byte 0");
    dec_err("1.e5", "invalid number at byte 0");
    dec_err("2e+", "invalid number at byte 0");
    dec_err(".5", "unexpected character '.', expected a value at byte 0");
    dec_err("+1", "unexpected character '+', expected a value at byte 0");
    dec_err("NaN", "unexpected character 'N', expected a value at byte 0");
    dec_err("[1,]", "unexpected character ']', expected a value at byte 3");
    dec_err("{\"a\":1,}",
            "unexpected character '}', expected a string at byte 7");
    dec_err("{1:2}", "unexpected character '1', expected a string at byte 1");
    dec_err("{\"a\" 1}", "unexpected character '1', expected ':' at byte 5");
    dec_err("['a']", "unexpected character ''', expected a value at byte 1");
    dec_err("\xef\xbb\xbf{}",
            "unexpected byte 0xef, expected a value at byte 0");
}

static void test_decode_limits(void) {
    char deep[1024];
    memset(deep, '[', 128);
    memset(deep + 128, ']', 128);
    deep[256] = '\0';
    roundtrip(deep, NULL); /* exactly the limit */
    memset(deep, '[', 129);
    memset(deep + 129, ']', 129);
    deep[258] = '\0';
    dec_err(deep, "nesting deeper than 128 at byte 128");
    for (int i = 0; i < 129; i++) memcpy(deep + 5 * i, "{\"a\":", 5);
    memcpy(deep + 645, "1", 2);
    dec_err(deep, "nesting deeper than 128 at byte 640");
    TAP_OK(eddy_json_decode(L, "x", 1, NULL, 0) == -1 && lua_gettop(L) == 0,
           "a NULL err buffer is allowed");
    TAP_OK(eddy_json_decode(L, NULL, 0, err, sizeof err) == -1 &&
               lua_gettop(L) == 0,
           "NULL input is empty input");
    /* Input not NUL-terminated: the decoder must stop at len. */
    TAP_OK(decn("12345", 3) == 0 && lua_tointeger(L, -1) == 123,
           "decoding stops at len");
    lua_settop(L, 0);
    TAP_OK(decn("1.5e3xyz", 5) == 0 && lua_tonumber(L, -1) == 1.5e3,
           "a float ending at len");
    lua_settop(L, 0);
    TAP_OK(decn("3.14159265358979323846264", 20) == 0 &&
               lua_tonumber(L, -1) == strtod("3.141592653589793238", NULL),
           "a long float ending at len (slow path)");
    lua_settop(L, 0);
    dec_err("[1.5e", "invalid number at byte 1");
}

static void test_encode_errors(void) {
    enc_err("print", "cannot encode a function");
    enc_err("{f = print}", "cannot encode a function");
    enc_err("coroutine.create(print)", "cannot encode a thread");
    enc_err("0/0", "cannot encode NaN/inf");
    enc_err("{1, math.huge}", "cannot encode NaN/inf");
    enc_err("{x = -math.huge}", "cannot encode NaN/inf");
    enc_err("{[math.huge] = 1}", "cannot encode NaN/inf");
    enc_err("(function() local t = {}; t.self = t; return t end)()",
            "cannot encode a cycle");
    enc_err("(function() local a = {b = {}}; a.b.c = {a}; return a end)()",
            "cannot encode a cycle");
    const char *mk = "(function(n) local t = {} for i = 1, n do t = {t} end "
                     "return t end)";
    char code[256];
    snprintf(code, sizeof code, "%s(127)", mk);
    const char *ok = enc_lua(code);
    TAP_OK(ok && strlen(ok) == 256, "128 nested tables encode");
    snprintf(code, sizeof code, "%s(128)", mk);
    enc_err(code, "nesting deeper than 128");
    /* The encoder appends, and errors leave the stack alone mid-object. */
    eddy_buf_reset(&B);
    eddy_buf_adds(&B, "x=");
    lua_pushinteger(L, 5);
    TAP_OK(eddy_json_encode(L, -1, &B, NULL, 0) == 0 && B.len == 3 &&
               memcmp(B.data, "x=5", 3) == 0,
           "encode appends to the buffer");
    lua_pop(L, 1);
    /* A negative index below other values. */
    (void)luaL_dostring(L, "return {a = {1, 2.5}}, 'x', 'y'");
    eddy_buf_reset(&B);
    TAP_OK(eddy_json_encode(L, -3, &B, err, sizeof err) == 0 && B.len == 13 &&
               memcmp(B.data, "{\"a\":[1,2.5]}", 13) == 0 && lua_gettop(L) == 3,
           "encode a value below the top");
    lua_settop(L, 0);
}

/* The fast path for flat objects (string keys, scalar values) is tried
 * before the length, cycle and path bookkeeping of other tables. */
static void test_flat_tables(void) {
    lua_pushlightuserdata(L, NULL);
    lua_setglobal(L, "null");
    TAP_STREQ(enc_lua("(function() local t = {1, 2, 3, x = 1} "
                      "t[1], t[2], t[3] = nil, nil, nil return t end)()"),
              "{\"x\":1}", "emptied array part plus a string key");
    TAP_STREQ(enc_lua("{nil, nil, x = true}"), "{\"x\":true}",
              "nil array slots plus a string key");
    TAP_STREQ(enc_lua("(function() local t = {a = 1} "
                      "return {t, t, {x = t}} end)()"),
              "[{\"a\":1},{\"a\":1},{\"x\":{\"a\":1}}]",
              "a shared flat table is not a cycle");
    enc_err("(function() local t = {a = 1}; t.b = {c = t}; return t end)()",
            "cannot encode a cycle");
}

/* ---- UTF-8: a reference the encoder is checked against ---------------- */

/* Whether a byte string is a proper prefix of the UTF-8 form of some scalar
 * value, by its length 1..3: filled by ref_init, which encodes every one. */
static unsigned char pre1[256], pre2[1 << 16], *pre3; /* pre3: 2^24 bits */

/* The UTF-8 form of cp (no checks) into u; returns its length. */
static int ref_encode(unsigned cp, unsigned char *u) {
    if (cp < 0x80) return u[0] = (unsigned char)cp, 1;
    if (cp < 0x800)
        return u[0] = (unsigned char)(0xC0 | cp >> 6),
               u[1] = (unsigned char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return u[0] = (unsigned char)(0xE0 | cp >> 12),
               u[1] = (unsigned char)(0x80 | (cp >> 6 & 63)),
               u[2] = (unsigned char)(0x80 | (cp & 63)), 3;
    u[0] = (unsigned char)(0xF0 | cp >> 18);
    u[1] = (unsigned char)(0x80 | (cp >> 12 & 63));
    u[2] = (unsigned char)(0x80 | (cp >> 6 & 63));
    u[3] = (unsigned char)(0x80 | (cp & 63));
    return 4;
}

static void ref_init(void) {
    pre3 = calloc(1 << 21, 1);
    for (unsigned cp = 0x80; cp <= 0x10FFFF; cp++) {
        unsigned char u[4];
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        int n = ref_encode(cp, u);
        pre1[u[0]] = 1;
        if (n > 2) pre2[u[0] << 8 | u[1]] = 1;
        unsigned x = (unsigned)u[0] << 16 | u[1] << 8 | u[2];
        if (n > 3) pre3[x >> 3] |= (unsigned char)(1 << (x & 7));
    }
}

/* The sequence at s[0..n) (s[0] >= 0x80): its length if it is the UTF-8
 * form of a scalar value (decoded, re-encoded, compared), else minus the
 * length of its longest prefix that begins one (at least 1). */
static int ref_seq(const unsigned char *s, size_t n) {
    int want = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (want && (size_t)want <= n) {
        unsigned cp = s[0] & (0x7Fu >> want), ok = 1;
        unsigned char u[4];
        for (int i = 1; i < want; i++) {
            ok &= (s[i] & 0xC0) == 0x80;
            cp = cp << 6 | (s[i] & 63);
        }
        if (ok && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF) &&
            ref_encode(cp, u) == want && memcmp(u, s, (size_t)want) == 0)
            return want;
    }
    unsigned x = n >= 3 ? (unsigned)s[0] << 16 | s[1] << 8 | s[2] : 0;
    if (n >= 3 && pre3[x >> 3] & (1 << (x & 7))) return -3;
    if (n >= 2 && pre2[s[0] << 8 | s[1]]) return -2;
    return -1;
}

/* s[0..n) as the encoder should quote it, into out (room for 6n + 3):
 * escapes, and ill-formed UTF-8 as U+FFFD, one per maximal subpart. */
static char *quote(char *out, const char *s, size_t n) {
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
        case '\\':
            o += sprintf(o, "\\%c", c);
            break;
        case '\b':
            o += sprintf(o, "\\b");
            break;
        case '\f':
            o += sprintf(o, "\\f");
            break;
        case '\n':
            o += sprintf(o, "\\n");
            break;
        case '\r':
            o += sprintf(o, "\\r");
            break;
        case '\t':
            o += sprintf(o, "\\t");
            break;
        default:
            if (c < 0x20) {
                o += sprintf(o, "\\u%04x", c);
            } else if (c >= 0x80) {
                int r = ref_seq((const unsigned char *)s + i, n - i);
                memcpy(o, r > 0 ? s + i : "\xef\xbf\xbd", r > 0 ? r : 3);
                o += r > 0 ? r : 3;
                i += (size_t)(r > 0 ? r : -r) - 1;
            } else {
                *o++ = (char)c;
            }
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* A flat object {[s] = s, ["~"] = true} and a 17-member object (the
 * general path: "~0" to "~>" added) with s as a key and a value: 0 if both
 * encode as expected. s sorts after the "~" keys if it starts with a byte
 * >= '~' (then "~a..." if at all). */
static int check_string(const char *s, size_t len) {
    char q[400], want[1024], rest[256];
    if (len == 1 && s[0] == '~') return 0;
    int last = len > 0 && (unsigned char)s[0] >= '~', bad = 0;
    quote(q, s, len);
    for (int general = 0; general < 2; general++) {
        lua_createtable(L, 0, 17);
        lua_pushlstring(L, s, len);
        lua_pushlstring(L, s, len);
        lua_rawset(L, -3); /* t[s] = s */
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "~");
        int n = snprintf(rest, sizeof rest, "\"~\":true");
        for (int i = 0; general && i < 15; i++) {
            lua_pushinteger(L, i);
            lua_setfield(L, -2, (const char[]){'~', (char)('0' + i), 0});
            n += snprintf(rest + n, sizeof rest - (size_t)n, ",\"~%c\":%d",
                          '0' + i, i);
        }
        if (last)
            snprintf(want, sizeof want, "{%s,%s:%s}", rest, q, q);
        else
            snprintf(want, sizeof want, "{%s:%s,%s}", q, q, rest);
        eddy_buf_reset(&B);
        int rc = eddy_json_encode(L, -1, &B, err, sizeof err);
        lua_pop(L, 1);
        bad += rc != 0 || B.len != strlen(want) ||
               memcmp(B.data, want, B.len) != 0;
    }
    return bad;
}

/* Two members, inserted in either order: the lower key first. */
static void test_flat_pairs(void) {
    static const char *pairs[][3] = {
        {"a", "aa", "{\"a\":1,\"aa\":2}"},
        {"aa", "ab", "{\"aa\":1,\"ab\":2}"},
        {"", "a", "{\"\":1,\"a\":2}"},
        {"ab", "b", "{\"ab\":1,\"b\":2}"},
        {"x\\1", "x\\2", "{\"x\\u0001\":1,\"x\\u0002\":2}"},
        {"k\\127", "k\\255", "{\"k\x7f\":1,\"k\xef\xbf\xbd\":2}"},
        {"count", "word", "{\"count\":1,\"word\":2}"}};
    int bad = 0;
    for (int i = 0; i < 7; i++) {
        char code[128];
        snprintf(code, sizeof code,
                 "(function() local a, b = {}, {} a['%s'] = 1 a['%s'] = 2 "
                 "b['%s'] = 2 b['%s'] = 1 return {a, b} end)()",
                 pairs[i][0], pairs[i][1], pairs[i][1], pairs[i][0]);
        char want[128];
        snprintf(want, sizeof want, "[%s,%s]", pairs[i][2], pairs[i][2]);
        const char *got = enc_lua(code);
        bad += got == NULL || strcmp(got, want) != 0;
    }
    TAP_OK(bad == 0, "two members in either order (%d bad)", bad);
}

/* Strings of every length up to 64 (the copy goes by words), with a byte to
 * escape at each position, or all bytes to escape, as keys and as values of
 * flat objects and of others. */
static void test_flat_strings(void) {
    int bad = 0;
    for (int len = 0; len <= 64; len++) {
        char s[64];
        for (int at = -1; at < len; at++) {
            for (int i = 0; i < len; i++) s[i] = (char)('a' + i % 26);
            if (at >= 0) s[at] = "\"\\\n\x01\x1f\x7f"[at % 6];
            bad += check_string(s, (size_t)len);
        }
        for (int i = 0; i < len; i++) s[i] = "\"\\\n\x01\x1f\t\r\b\f"[i % 9];
        bad += check_string(s, (size_t)len);
    }
    static const int lens[] = {1, 2, 3, 4, 5, 7, 8, 9, 11, 16, 17};
    for (int c = 0; c < 256; c++) {
        for (int l = 0; l < 11; l++) {
            char s[24];
            int len = lens[l], at[3] = {0, len / 2, len - 1};
            for (int a = 0; a < 3; a++) {
                memset(s, 'a', (size_t)len);
                s[at[a]] = (char)c;
                bad += check_string(s, (size_t)len);
            }
        }
    }
    TAP_OK(bad == 0,
           "keys and values of 0..64 bytes, escaped at each position or "
           "throughout, and every byte value in each word (%d bad)",
           bad);
}

static void test_flat_members(void) {
    TAP_STREQ(enc_lua("{['a\"'] = 1, ['a\\\\'] = 2, a = '\\0', ['a\\n'] = "
                      "'\\t', ['a\\x7f'] = '\\x1f', ['a\\xc3\\xa9'] = 'x'}"),
              "{\"a\":\"\\u0000\",\"a\\n\":\"\\t\",\"a\\\"\":1,"
              "\"a\\\\\":2,\"a\x7f\":\"\\u001f\",\"a\xc3\xa9\":\"x\"}",
              "keys that need escaping, sorted by their raw bytes");
    TAP_STREQ(enc_lua("{abcdefgh = 1, abcdefg = 2, abcdefghi = 3, "
                      "abcdefgH = 4, abcdefgha = 5, [''] = 6, b = 7}"),
              "{\"\":6,\"abcdefg\":2,\"abcdefgH\":4,\"abcdefgh\":1,"
              "\"abcdefgha\":5,\"abcdefghi\":3,\"b\":7}",
              "keys sharing prefixes sort bytewise, the shorter first");
    TAP_STREQ(enc_lua("{a = math.maxinteger, b = math.mininteger, c = 0, "
                      "d = -1, e = 9, f = 10, g = 99, h = 100}"),
              "{\"a\":9223372036854775807,\"b\":-9223372036854775808,"
              "\"c\":0,\"d\":-1,\"e\":9,\"f\":10,\"g\":99,\"h\":100}",
              "integers at the limits in a flat object");
    TAP_STREQ(enc_lua("{a = 3.0, b = -0.0, c = 0.1, d = 1e300, e = 2^63, "
                      "f = -1.7976931348623157e308, g = true, h = false}"),
              "{\"a\":3.0,\"b\":-0.0,\"c\":0.1,\"d\":1e+300,"
              "\"e\":9.223372036854776e+18,"
              "\"f\":-1.7976931348623157e+308,\"g\":true,\"h\":false}",
              "floats and booleans in a flat object");
    TAP_STREQ(enc_lua("{p = 16, o = 15, n = 14, m = 13, l = 12, k = 11, "
                      "j = 10, i = 9, h = 8, g = 7, f = 6, e = 5, d = 4, "
                      "c = 3, b = 2, a = 1}"),
              "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
              "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,"
              "\"n\":14,\"o\":15,\"p\":16}",
              "16 members: the fast path, sorted");
    TAP_STREQ(enc_lua("{q = 17, p = 16, o = 15, n = 14, m = 13, l = 12, "
                      "k = 11, j = 10, i = 9, h = 8, g = 7, f = 6, e = 5, "
                      "d = 4, c = 3, b = 2, a = 1}"),
              "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
              "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,"
              "\"n\":14,\"o\":15,\"p\":16,\"q\":17}",
              "17 members: the general path, same order");
    TAP_STREQ(enc_lua("{b = 'x', a = 'y', [1.5] = true}"),
              "{\"1.5\":true,\"a\":\"y\",\"b\":\"x\"}",
              "a non-string key: the general path");
    TAP_STREQ(enc_lua("{b = 'x', a = {}, c = null}"),
              "{\"a\":{},\"b\":\"x\",\"c\":null}",
              "a table or null value: the general path");
    enc_err("{a = 1, b = 0/0}", "cannot encode NaN/inf");
    enc_err("{a = 'x', b = print}", "cannot encode a function");
}

/* Objects whose strings add up to more than the one-go limit (1024 bytes)
 * are written piece by piece: same text. */
static void test_flat_long(void) {
    int bad = 0;
    for (size_t len = 660; len <= 720; len += 2) {
        char *k = malloc(len), *v = malloc(len / 2), *out = malloc(8 * len);
        for (size_t i = 0; i < len; i++) k[i] = i % 97 ? 'k' : '\n';
        for (size_t i = 0; i < len / 2; i++) v[i] = i % 5 ? 'v' : '"';
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, v, len / 2);
        lua_setfield(L, -2, "v");
        lua_pushlstring(L, k, len);
        lua_pushinteger(L, 7);
        lua_rawset(L, -3);
        char *o = out;
        *o++ = '{';
        quote(o, k, len);
        o += strlen(o);
        o += sprintf(o, ":7,\"v\":");
        quote(o, v, len / 2);
        strcat(o, "}");
        const char *got = enc();
        bad += got == NULL || strcmp(got, out) != 0;
        free(k), free(v), free(out);
    }
    TAP_OK(bad == 0, "flat objects with 990..1080 bytes of strings (%d bad)",
           bad);
}

/* The room for an object is made once: from an empty buffer, and when the
 * buffer is nearly full (run under ASan by make check). */
static void test_flat_buffer(void) {
    eddy_buf_free(&B);
    TAP_STREQ(enc_lua("{word = 'abc', count = 17}"),
              "{\"count\":17,\"word\":\"abc\"}", "into an empty buffer");
    static const char *vals[] = {"'xyzxyzxyz'", "-1.7976931348623157e308",
                                 "math.mininteger", "false",
                                 "string.rep('\\1', 20)"};
    int bad = 0;
    for (size_t room = 0; room < 160; room++) {
        for (int v = 0; v < 5; v++) {
            char code[128], want[256];
            snprintf(code, sizeof code, "return {k = %s}", vals[v]);
            (void)luaL_dostring(L, code);
            eddy_buf_reset(&B);
            eddy_json_encode(L, -1, &B, err, sizeof err);
            snprintf(want, sizeof want, "%.*s", (int)B.len, B.data);
            eddy_buf_free(&B);
            do eddy_buf_addc(&B, 'y');
            while (B.cap - B.len != room);
            size_t mark = B.len;
            int rc = eddy_json_encode(L, -1, &B, err, sizeof err);
            lua_pop(L, 1);
            bad += rc != 0 || B.len - mark != strlen(want) ||
                   memcmp(B.data + mark, want, B.len - mark) != 0 ||
                   B.data[mark - 1] != 'y';
        }
    }
    TAP_OK(bad == 0, "appended with 0..159 bytes of room left (%d bad)", bad);
}

static void test_flat_depth(void) {
    const char *mk = "(function(n) local t = {k = 1} for i = 1, n do "
                     "t = {t = t} end return t end)";
    char code[256];
    snprintf(code, sizeof code, "%s(127)", mk);
    const char *ok = enc_lua(code);
    TAP_OK(ok && strlen(ok) == 127 * 6 + 7, "128 nested objects encode");
    snprintf(code, sizeof code, "%s(128)", mk);
    enc_err(code, "nesting deeper than 128");
    snprintf(code, sizeof code,
             "(function() local t = %s(127) local u = t for i = 1, 127 do "
             "u = u.t end u.k = t return t end)()",
             mk);
    enc_err(code, "cannot encode a cycle");
}

/* ---- UTF-8 in the output ---------------------------------------------- */

/* Encodes the string s[0..n) alone; returns its text or NULL (no test
 * line: sweeps call it by the hundred thousand). */
static const char *enc_bytes(const char *s, size_t n) {
    lua_pushlstring(L, s, n);
    eddy_buf_reset(&B);
    int rc = eddy_json_encode(L, -1, &B, err, sizeof err);
    lua_pop(L, 1);
    if (rc != 0 || eddy_buf_addc(&B, '\0') != 0) return NULL;
    B.len--;
    return B.data;
}

/* Ill-formed UTF-8 is written as U+FFFD, one per maximal subpart. */
static void test_utf8_cases(void) {
    static const char *cases[][3] = {
        {"\xff\xfe bad", "\"\xef\xbf\xbd\xef\xbf\xbd bad\"", "stray bytes"},
        {"\xc3\x28", "\"\xef\xbf\xbd(\"", "a lead byte without its tail"},
        {"\xe2\x82", "\"\xef\xbf\xbd\"", "a truncated 3-byte sequence: one"},
        {"\xf0\x9f\x98x", "\"\xef\xbf\xbdx\"", "a truncated 4-byte one"},
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"", "overlong C0 AF: two"},
        {"\xe0\x80\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
         "overlong E0 80 AF: three"},
        {"\xf0\x8f\xbf\xbf",
         "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
         "overlong F0 8F: four"},
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
         "a surrogate (ED A0 80)"},
        {"\xf4\x90\x80\x80",
         "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
         "above U+10FFFF (F4 90)"},
        {"\xf5\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\"", "F5 never starts one"},
        {"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\xc2\x80",
         "\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\xc2\x80\"",
         "U+D7FF, U+E000, U+10FFFF, U+0080 pass"},
        {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"\n",
         "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\\\"\\n\"",
         "valid UTF-8 with escapes passes"},
        {"a\xe2\x82\xac\xe2\x82\"", "\"a\xe2\x82\xac\xef\xbf\xbd\\\"\"",
         "a truncated sequence before a quote"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        TAP_STREQ(enc_bytes(cases[i][0], strlen(cases[i][0])), cases[i][1],
                  "UTF-8: %s", cases[i][2]);
    TAP_OK(eddy_json_utf8_valid("abc\xc3\xa9\xf4\x8f\xbf\xbf", 9) &&
               eddy_json_utf8_valid("", 0) &&
               !eddy_json_utf8_valid("abcdefgh\xed\xa0\x80", 11) &&
               !eddy_json_utf8_valid("abcdefghijklmnop\xc3", 17),
           "eddy_json_utf8_valid");
    /* The decoder keeps such bytes; what it gives encodes as valid. */
    const char in[] = "{\"a\":\"\xc3\x28\",\"\xff\":1}";
    if (dec(in) == 0)
        TAP_STREQ(enc(), "{\"a\":\"\xef\xbf\xbd(\",\"\xef\xbf\xbd\":1}",
                  "decoded invalid UTF-8 encodes as U+FFFD");
}

/* Every string of 1 or 2 bytes, and of 3 and 4 bytes drawn from bytes at
 * the edges of the UTF-8 ranges, against the reference. */
static void test_utf8_sweep(void) {
    static const unsigned char edge[] = {
        'a',  '"',  0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
        0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
        0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
    const size_t ne = sizeof edge;
    int bad = 0, invalid = 0, checked = 0;
    char s[4], want[32];
    for (unsigned x = 0; x < 65536 + ne * ne * ne * (1 + ne); x++) {
        size_t n;
        if (x < 256) {
            s[0] = (char)x, n = 1;
        } else if (x < 65536) {
            s[0] = (char)(x >> 8), s[1] = (char)x, n = 2;
        } else {
            unsigned y = x - 65536;
            n = y < ne * ne * ne ? 3 : 4;
            if (n == 4) y -= (unsigned)(ne * ne * ne);
            for (size_t i = 0; i < n; i++, y /= (unsigned)ne)
                s[i] = (char)edge[y % ne];
        }
        quote(want, s, n);
        const char *got = enc_bytes(s, n);
        checked++;
        if (got == NULL || strcmp(got, want) != 0 ||
            !eddy_json_utf8_valid(got, strlen(got))) {
            if (bad < 5)
                printf("# %s: got %s want %s\n", show(s), show(got ? got : ""),
                       show(want));
            bad++;
        }
        int valid = 1;
        for (size_t i = 0; i < n; i++) {
            int r = (unsigned char)s[i] < 0x80
                        ? 1
                        : ref_seq((const unsigned char *)s + i, n - i);
            valid &= r > 0;
            i += (size_t)(r > 0 ? r : -r) - 1;
        }
        invalid += !valid;
        bad += eddy_json_utf8_valid(s, n) != valid;
    }
    TAP_OK(bad == 0,
           "%d strings (%d not valid UTF-8) encode as the reference says, "
           "as valid UTF-8 (%d bad)",
           checked, invalid, bad);
}

/* Keys that are not valid UTF-8: written with U+FFFD, sorted by what is
 * written, and refused when two are written alike. */
static void test_utf8_keys(void) {
    TAP_STREQ(enc_lua("{['\\xff'] = 1, b = 'x'}"),
              "{\"b\":\"x\",\"\xef\xbf\xbd\":1}", "a flat object's bad key");
    enc_err("{['\\xff'] = 1, ['\\xfe'] = 2}",
            "two keys encode as \"\xef\xbf\xbd\"");
    enc_err("{['\\xff'] = 1, ['\\xef\\xbf\\xbd'] = 2}",
            "two keys encode as \"\xef\xbf\xbd\"");
    enc_err("{['a\\xc3'] = {}, ['a\\xff'] = {}}",
            "two keys encode as \"a\xef\xbf\xbd\"");
    TAP_STREQ(enc_lua("{['\\xc3\\xa9'] = 1, ['\\xc3'] = 2, [1] = 3}"),
              "{\"1\":3,\"\xc3\xa9\":1,\"\xef\xbf\xbd\":2}",
              "the general path writes and sorts the replaced key");
    const char *got = enc_lua("{['\\x80'] = string.rep('v', 1100)}");
    TAP_OK(got && strncmp(got, "{\"\xef\xbf\xbd\":\"vvv", 10) == 0 &&
               strlen(got) == 1100 + 10,
           "a long flat object's bad key");
    enc_err("{['\\x80'] = string.rep('v', 1100), ['\\x81'] = 1}",
            "two keys encode as \"\xef\xbf\xbd\"");
}

/* EDDY_JSON_NONFINITE_NULL writes NaN and infinities as null. */
static void test_nonfinite_null(void) {
    static const char *cases[][2] = {
        {"0/0", "null"},
        {"{math.huge, -math.huge, 1.5}", "[null,null,1.5]"},
        {"{x = 0/0, y = 1}", "{\"x\":null,\"y\":1}"},
        {"{[math.huge] = 1, [-math.huge] = 2}", "{\"-inf\":2,\"inf\":1}"},
        {"{s = {n = -math.huge}}", "{\"s\":{\"n\":null}}"}};
    for (int i = 0; i < 5; i++) {
        char code[128];
        snprintf(code, sizeof code, "return %s", cases[i][0]);
        (void)luaL_dostring(L, code);
        eddy_buf_reset(&B);
        int rc = eddy_json_encode_flags(L, -1, &B, EDDY_JSON_NONFINITE_NULL,
                                        err, sizeof err);
        eddy_buf_addc(&B, '\0');
        TAP_STREQ(rc == 0 ? B.data : err, cases[i][1], "NONFINITE_NULL: %s",
                  cases[i][0]);
        lua_settop(L, 0);
    }
    enc_err("{x = 0/0, y = 1}", "cannot encode NaN/inf");
}

/* ---- randomized round trip ------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void push_random_string(void) {
    static const char pool[] = "ab\"\\/\n\t\x01\x1f\x7f\xc3\xa9\xff\0 zZ09{}";
    char s[24];
    size_t n = next() % sizeof s;
    for (size_t i = 0; i < n; i++) s[i] = pool[next() % (sizeof pool - 1)];
    lua_pushlstring(L, s, n);
}

static void push_random_number(void) {
    uint64_t r = next();
    double x;
    switch (r % 5) {
    case 0:
        lua_pushinteger(L, (lua_Integer)next());
        return;
    case 1:
        lua_pushinteger(L, (lua_Integer)(next() % 2001) - 1000);
        return;
    case 2:
        lua_pushinteger(L, r & 8 ? INT64_MAX : INT64_MIN);
        return;
    case 3:
        do {
            uint64_t bits = next();
            memcpy(&x, &bits, sizeof x);
        } while (!isfinite(x));
        lua_pushnumber(L, x);
        return;
    default:
        lua_pushnumber(L, (double)(int64_t)(next() % 2000001 - 1000000) / 1000);
    }
}

static void push_random(int depth) {
    int kind = (int)(next() % (depth >= 6 ? 5 : 8));
    int n = (int)(next() % 6);
    switch (kind) {
    case 0:
        lua_pushlightuserdata(L, NULL);
        return;
    case 1:
        lua_pushboolean(L, (int)(next() & 1));
        return;
    case 2:
        push_random_number();
        return;
    case 3:
    case 4:
        push_random_string();
        return;
    case 5:
    case 6:
        lua_createtable(L, n, 0);
        for (int i = 1; i <= n; i++) {
            push_random(depth + 1);
            lua_rawseti(L, -2, i);
        }
        if (n == 0 && (next() & 1)) {
            eddy_json_push_array_mt(L);
            lua_setmetatable(L, -2);
        }
        return;
    default:
        lua_createtable(L, 0, n);
        for (int i = 0; i < n; i++) {
            push_random_string();
            push_random(depth + 1);
            lua_rawset(L, -3);
        }
    }
}

static void test_random(void) {
    int bad_trip = 0, bad_stack = 0, bad_reenc = 0, decoded = 0;
    eddy_buf one, two;
    eddy_buf_init(&one);
    eddy_buf_init(&two);
    for (int iter = 0; iter < 5000; iter++) {
        push_random(0);
        eddy_buf_reset(&one);
        eddy_buf_reset(&two);
        int rc = eddy_json_encode(L, -1, &one, err, sizeof err);
        lua_pop(L, 1);
        bad_stack += lua_gettop(L) != 0;
        if (rc != 0 ||
            eddy_json_decode(L, one.data, one.len, err, sizeof err)) {
            bad_trip++;
            printf("# iteration %d: %s\n", iter, err);
            lua_settop(L, 0);
            continue;
        }
        rc = eddy_json_encode(L, -1, &two, err, sizeof err);
        lua_pop(L, 1);
        bad_stack += lua_gettop(L) != 0;
        bad_trip += rc != 0 || one.len != two.len ||
                    memcmp(one.data, two.data, one.len) != 0;
        /* Corrupt one byte: decoding must fail cleanly or give a value
         * that encodes again. */
        one.data[next() % one.len] = "x\"\\[]{},:0-e.\x01\xff"[next() % 16];
        if (eddy_json_decode(L, one.data, one.len, err, sizeof err) == 0) {
            decoded++;
            eddy_buf_reset(&two);
            bad_reenc += eddy_json_encode(L, -1, &two, err, sizeof err) != 0;
            lua_pop(L, 1);
        }
        bad_stack += lua_gettop(L) != 0;
    }
    TAP_OK(bad_trip == 0,
           "5000 random values: decode(encode(v)) re-encodes "
           "to the same bytes (%d bad)",
           bad_trip);
    TAP_OK(bad_stack == 0, "random round trips keep the stack balanced");
    TAP_OK(bad_reenc == 0, "%d corrupted documents that decode all encode",
           decoded);
    eddy_buf_free(&one);
    eddy_buf_free(&two);
}

int main(void) {
    L = luaL_newstate();
    luaL_openlibs(L);
    ref_init();
    eddy_buf_init(&B);
    test_integers();
    test_integer_lengths();
    test_floats();
    test_float_roundtrip();
    test_strings();
    test_null();
    test_containers();
    test_big_containers();
    test_key_order();
    test_mixed_keys();
    test_decode_errors();
    test_decode_limits();
    test_encode_errors();
    test_flat_tables();
    test_flat_pairs();
    test_flat_strings();
    test_flat_members();
    test_flat_long();
    test_flat_buffer();
    test_flat_depth();
    test_utf8_cases();
    test_utf8_sweep();
    test_utf8_keys();
    test_nonfinite_null();
    test_random();
    TAP_OK(lua_gettop(L) == 0, "stack empty at the end");
    eddy_buf_free(&B);
    lua_close(L);
    return tap_done();
}

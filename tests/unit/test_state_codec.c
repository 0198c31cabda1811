/* test_state_codec.c - unit tests for runtime/state_codec.c (checkpoint
 * records and state keys). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "state_codec.h"
#include "tap.h"

static lua_State *L;
static eddy_buf B;
static char err[512];

/* Lua helpers: same(a, b) compares deeply and exactly (math types, -0.0,
 * NaN, metatables); mk(n) nests n tables under key "a". */
static const char *prelude =
    "function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    if math.type(a) ~= math.type(b) then return false end\n"
    "    if a ~= a then return b ~= b end\n"
    "    if a == 0 and b == 0 then return 1 / a == 1 / b end\n"
    "    return a == b\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in next, a do\n"
    "    if not same(v, rawget(b, k)) then return false end\n"
    "  end\n"
    "  for k in next, b do if rawget(a, k) == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "function mk(n) local t = {} for i = 2, n do t = {a = t} end return t "
    "end\n";

/* Evaluates a Lua expression and pushes its value (nil on a Lua error). */
static void eval(const char *expr) {
    char code[4096];
    snprintf(code, sizeof code, "return %s", expr);
    if (luaL_dostring(L, code) != 0) {
        printf("# lua error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

/* Encodes the top value into B (reset first) with root "state"; checks the
 * stack is unchanged. */
static int enc_top(void) {
    int top = lua_gettop(L);
    eddy_buf_reset(&B);
    err[0] = '\0';
    int rc = eddy_codec_encode(L, -1, "state", &B, err, sizeof err);
    TAP_OK(lua_gettop(L) == top, "stack balanced after encoding");
    return rc;
}

/* Decodes s[0..n); checks the stack grew by one on success, else not. */
static int dec(const char *s, size_t n) {
    int top = lua_gettop(L);
    err[0] = '\0';
    int rc = eddy_codec_decode(L, s, n, err, sizeof err);
    TAP_OK(lua_gettop(L) == top + (rc == 0), "stack after decoding");
    return rc;
}

/* Whether the two values on top are the same (pops nothing). */
static int same_top(void) {
    lua_getglobal(L, "same");
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_call(L, 2, 1);
    int yes = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return yes;
}

/* Encodes the top value, decodes it, compares, and checks the decoded
 * value encodes to the same bytes. Pops the value. */
static void rt_top(const char *name) {
    if (enc_top() != 0) {
        TAP_OK(0, "encode %s: %s", name, err);
        lua_pop(L, 1);
        return;
    }
    char *first = malloc(B.len);
    size_t n = B.len;
    memcpy(first, B.data, n);
    if (dec(first, n) == 0) {
        TAP_OK(same_top(), "%s survives a round trip", name);
        TAP_OK(enc_top() == 0 && B.len == n && memcmp(B.data, first, n) == 0,
               "%s encodes to the same bytes again", name);
        lua_pop(L, 1);
    } else {
        TAP_OK(0, "decode %s: %s", name, err);
    }
    free(first);
    lua_pop(L, 1);
}

static void rt(const char *expr) {
    eval(expr);
    rt_top(expr);
}

/* The exact bytes (with the version byte) of expr's encoding. */
#define BYTES(expr, lit) bytes(expr, lit, sizeof lit - 1)
static void bytes(const char *expr, const char *want, size_t n) {
    eval(expr);
    TAP_OK(enc_top() == 0 && B.len == n && memcmp(B.data, want, n) == 0,
           "bytes of %s", expr);
    lua_pop(L, 1);
}

/* expr is refused with exactly want; B keeps what it held before. */
static void refuse(const char *expr, const char *want) {
    eval(expr);
    int top = lua_gettop(L);
    eddy_buf_reset(&B);
    eddy_buf_adds(&B, "pre");
    int rc = eddy_codec_encode(L, -1, "state", &B, err, sizeof err);
    TAP_OK(rc == -1 && lua_gettop(L) == top, "%s is refused", expr);
    TAP_OK(B.len == 3 && memcmp(B.data, "pre", 3) == 0,
           "the buffer is as it was");
    TAP_STREQ(err, want, "message for %s", expr);
    lua_pop(L, 1);
}

static void dec_err(const char *s, size_t n, const char *want) {
    TAP_OK(dec(s, n) == -1, "bad record refused");
    TAP_STREQ(err, want, "message for a bad record");
}

static void test_scalars(void) {
    static const char *exprs[] = {"nil",
                                  "true",
                                  "false",
                                  "0",
                                  "1",
                                  "-1",
                                  "63",
                                  "64",
                                  "127",
                                  "128",
                                  "-129",
                                  "300",
                                  "1700000000123",
                                  "math.maxinteger",
                                  "math.mininteger",
                                  "3",
                                  "3.0",
                                  "-3.0",
                                  "0.1",
                                  "1/3",
                                  "0.0",
                                  "-0.0",
                                  "math.huge",
                                  "-math.huge",
                                  "0/0",
                                  "-(0/0)",
                                  "5e-324",
                                  "1.7976931348623157e308",
                                  "2^53",
                                  "2^63",
                                  "''",
                                  "'abc'",
                                  "'a\\0b\\0'",
                                  "'\\xff\\xfe\\0'",
                                  "null"};
    for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) rt(exprs[i]);
    eval("3");
    TAP_OK(enc_top() == 0 && dec(B.data, B.len) == 0 && lua_isinteger(L, -1),
           "3 stays an integer");
    lua_pop(L, 2);
    eval("3.0");
    TAP_OK(enc_top() == 0 && dec(B.data, B.len) == 0 && !lua_isinteger(L, -1),
           "3.0 stays a float");
    lua_pop(L, 2);
    lua_pushlightuserdata(L, NULL);
    TAP_OK(enc_top() == 0 && dec(B.data, B.len) == 0 &&
               lua_type(L, -1) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, -1),
           "eddy.null comes back as a NULL light userdata");
    lua_pop(L, 2);
    /* NaN payloads and signs survive bit for bit */
    static const uint64_t nans[] = {0x7ff8000000000000u, 0xfff8000000000000u,
                                    0x7ff0000000000001u, 0x7ff4dead0000beefu};
    for (int i = 0; i < 4; i++) {
        double x, y;
        uint64_t got;
        memcpy(&x, &nans[i], 8);
        lua_pushnumber(L, x);
        if (enc_top() == 0 && dec(B.data, B.len) == 0) {
            y = lua_tonumber(L, -1);
            memcpy(&got, &y, 8);
            TAP_OK(got == nans[i], "NaN %016llx keeps its bits",
                   (unsigned long long)nans[i]);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    /* a 1 MB binary string, as a value and as a key */
    (void)luaL_dostring(L, "big = ('ab\\0c'):rep(262144) .. '\\1'");
    eval("big");
    TAP_OK(lua_rawlen(L, -1) == 1048577, "1 MB string built");
    rt_top("a 1 MB string");
    rt("{[big] = big, x = {big}}");
}

static void test_format(void) {
    bytes("nil", "\x01\x01", 2);
    bytes("false", "\x01\x02", 2);
    bytes("true", "\x01\x03", 2);
    bytes("0", "\x01\x04\x00", 3);
    bytes("-1", "\x01\x04\x01", 3);
    bytes("1", "\x01\x04\x02", 3);
    bytes("64", "\x01\x04\x80\x01", 4);
    bytes("math.mininteger", "\x01\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
          12);
    bytes("1.5", "\x01\x05\x00\x00\x00\x00\x00\x00\xf8\x3f", 10);
    bytes("-0.0", "\x01\x05\x00\x00\x00\x00\x00\x00\x00\x80", 10);
    bytes("'a\\0'",
          "\x01\x06\x02"
          "a\0",
          5);
    bytes("null", "\x01\x07", 2);
    bytes("{}", "\x01\x08\x00", 3);
    bytes("setmetatable({}, amt)", "\x01\x09\x00", 3);
    bytes("{a = 1}",
          "\x01\x08\x01\x06\x01"
          "a\x04\x02",
          8);
    /* canonical order: false < true < numbers by value < strings bytewise */
    BYTES("{b = 1, a = 2, ab = 3, [2] = 0, [1.5] = 0, [true] = 0, [false] = 0,"
          " [-7] = 0}",
          "\x01\x08\x08"
          "\x02\x04\x00"
          "\x03\x04\x00"
          "\x04\x0d\x04\x00"
          "\x05\x00\x00\x00\x00\x00\x00\xf8\x3f\x04\x00"
          "\x04\x04\x04\x00"
          "\x06\x01"
          "a\x04\x04"
          "\x06\x02"
          "ab\x04\x06"
          "\x06\x01"
          "b\x04\x02");
}

static void test_tables(void) {
    rt("{}");
    rt("{{}, {{}}, x = {}}");
    rt("setmetatable({}, amt)");
    rt("setmetatable({1, 2}, amt)");
    rt("{a = setmetatable({}, amt), o = {}}");
    rt("{1, 2, 3, 'x', 2.5}");
    rt("{[1] = 1, [1000] = 2}");
    rt("{1, 2, x = 3, [1.5] = 4, [true] = 5, [false] = 6, [-7] = 7, [0] = 8}");
    rt("{[1.5] = 'a', [-0.5] = 'b', [2^63] = 'c', [-2^64] = 'd',"
       " [math.huge] = 'e', [-math.huge] = 'f', [1e300] = 'g',"
       " [math.maxinteger] = 'h', [math.mininteger] = 'i'}");
    rt("{['a\\0b'] = 1, ['a\\0c'] = 2, ['a'] = 3, [''] = 4}");
    rt("{count = 3, last = 'x', ok = true, avg = 2.5, none = null}");
    rt("{3, 3.0, -0.0, 0/0, math.huge}");
    rt("(function() local t = {} for i = 1, 1000 do t[i] = i * 1.5 end"
       " return t end)()");
    rt("(function() local t = {} for i = 1, 100000 do t['k' .. i] = i end"
       " return t end)()");
    rt("(function() local t = {} for i = 1, 300 do"
       " t[i] = {i, tostring(i), {x = i}} end return t end)()");
    rt("(function() local t = {} for i = 1, 200 do local u = {}"
       " for j = 1, 100 do u[j .. ''] = j end t[i] = u end return t end)()");
    /* metatables other than the array mark are dropped */
    eval("setmetatable({a = 1}, {__index = print})");
    if (enc_top() == 0 && dec(B.data, B.len) == 0) {
        TAP_OK(!lua_getmetatable(L, -1), "a foreign metatable is dropped");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    rt("mk(64)");
    eval("(function() local s = {1, {2}} return {s, s, {x = s}} end)()");
    if (enc_top() == 0 && dec(B.data, B.len) == 0) {
        (void)luaL_dostring(L, "return function(t) return t[1] ~= t[2] and "
                               "same(t[1], t[2]) and same(t[3].x, t[1]) end");
        lua_pushvalue(L, -2);
        lua_call(L, 1, 1);
        TAP_OK(lua_toboolean(L, -1),
               "a shared table is no cycle: it is written twice");
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/* The same content, built in different orders, gives the same bytes. */
static void test_canonical(void) {
    static const int sizes[] = {5, 50, 250, 260, 3000};
    for (int s = 0; s < 5; s++) {
        char code[1024];
        snprintf(
            code, sizeof code,
            "local n, a, b = %d, {}, {}\n"
            "local function key(i)\n"
            "  local m = i %% 4\n"
            "  if m == 0 then return 'k' .. i elseif m == 1 then return i\n"
            "  elseif m == 2 then return i + 0.5 else return -i end\n"
            "end\n"
            "for i = 1, n do a[key(i)] = {i, key(i)} end\n"
            "for i = n, 1, -1 do b[key(i)] = {i, key(i)} end\n"
            "for i = 1, n, 3 do b[key(i)] = nil end\n"
            "for i = 1, n, 3 do b[key(i)] = {i, key(i)} end\n"
            "a[true], b[false], a[false], b[true] = 1, 2, 2, 1\n"
            "return {x = a, y = {b}}, {y = {a}, x = b}",
            sizes[s]);
        if (luaL_dostring(L, code) != 0) {
            TAP_OK(0, "lua: %s", lua_tostring(L, -1));
            lua_pop(L, 1);
            continue;
        }
        enc_top();
        char *first = malloc(B.len);
        size_t n = B.len;
        memcpy(first, B.data, n);
        lua_pop(L, 1);
        enc_top();
        TAP_OK(B.len == n && memcmp(first, B.data, n) == 0,
               "%d mixed keys: same bytes whatever the insertion order",
               sizes[s]);
        free(first);
        lua_pop(L, 1);
    }
}

/* Another Lua state (another hash seed, other addresses) gives the same
 * bytes for the same content. */
static void test_other_state(void) {
    const char *code = "local t = {} for i = 1, 500 do t['k' .. i] = i"
                       " t[i * 7] = {i, 'v' .. i} end return t";
    lua_State *L2 = luaL_newstate();
    eddy_buf b2;
    eddy_buf_init(&b2);
    luaL_openlibs(L2);
    (void)luaL_dostring(L2, "for i = 1, 1000 do local _ = {} end");
    (void)luaL_dostring(L2, code);
    (void)luaL_dostring(L, code);
    enc_top();
    int rc = eddy_codec_encode(L2, -1, "state", &b2, err, sizeof err);
    TAP_OK(rc == 0 && b2.len == B.len && memcmp(b2.data, B.data, B.len) == 0,
           "two Lua states write the same bytes");
    lua_pop(L, 1);
    eddy_buf_free(&b2);
    lua_close(L2);
}

static void test_refusals(void) {
    refuse("print", "state: a function cannot be checkpointed");
    refuse("{cb = print}", "state.cb: a function cannot be checkpointed");
    refuse("{items = {1, 2, {f = print}}}",
           "state.items[3].f: a function cannot be checkpointed");
    refuse("{['a b'] = print}",
           "state[\"a b\"]: a function cannot be checkpointed");
    refuse("{[true] = print}",
           "state[true]: a function cannot be checkpointed");
    refuse("{[false] = {[-3] = print}}",
           "state[false][-3]: a function cannot be checkpointed");
    refuse("{[1.5] = print}", "state[1.5]: a function cannot be checkpointed");
    refuse("{[0.1] = print}", "state[0.1]: a function cannot be checkpointed");
    refuse("{[2^63] = print}",
           "state[9.223372036854776e+18]: a function cannot be checkpointed");
    refuse("{[-math.huge] = print}",
           "state[-1/0]: a function cannot be checkpointed");
    refuse("{['end'] = print, x = 1}",
           "state[\"end\"]: a function cannot be checkpointed");
    refuse("{a_1 = {['1a'] = print}}",
           "state.a_1[\"1a\"]: a function cannot be checkpointed");
    refuse("{['q\"\\\\\\n\\1\\127\\xc3\\xa9'] = print}",
           "state[\"q\\\"\\\\\\n\\001\\127\xc3\xa9\"]: a function cannot be "
           "checkpointed");
    refuse("{[('x'):rep(50)] = print}",
           "state[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"]: a function "
           "cannot be checkpointed");
    refuse("{t = coroutine.create(print)}",
           "state.t: a thread cannot be checkpointed");
    refuse("{f = io.stdout}", "state.f: a userdata cannot be checkpointed");
    refuse("{p = lightud}", "state.p: a userdata cannot be checkpointed");
    refuse("{[{}] = 1}", "state: a table key cannot be checkpointed");
    refuse("{t = {[print] = 1}}",
           "state.t: a function key cannot be checkpointed");
    refuse("{t = {[io.stdout] = 1}}",
           "state.t: a userdata key cannot be checkpointed");
    refuse("{[null] = 1}", "state: eddy.null cannot be a key");
    refuse("(function() local t = {} t.self = t return t end)()",
           "state.self: a cycle cannot be checkpointed");
    refuse("(function() local t = {a = {b = {}}} t.a.b.c = t.a return t "
           "end)()",
           "state.a.b.c: a cycle cannot be checkpointed");
    /* big tables (past the staging arena) name paths the same way */
    refuse("(function() local t = {} for i = 1, 1000 do t[i] = i end "
           "t[500] = {f = print} return {big = t} end)()",
           "state.big[500].f: a function cannot be checkpointed");
    refuse("(function() local t = {} for i = 1, 1000 do t[i] = i end "
           "t[{}] = 1 return {big = t} end)()",
           "state.big: a table key cannot be checkpointed");
    /* depth: 64 nested tables encode (test_tables), the 65th is named */
    char want[512] = "state";
    for (int i = 0; i < 64; i++) strcat(want, ".a");
    strcat(want, ": nesting deeper than 64 cannot be checkpointed");
    refuse("mk(65)", want);
    strcpy(want, "state.x");
    for (int i = 0; i < 63; i++) strcat(want, ".a");
    strcat(want, ": nesting deeper than 64 cannot be checkpointed");
    refuse("{x = mk(64)}", want);
}

static void test_encode_api(void) {
    /* another root, a NULL root, a short err buffer */
    eval("{x = print}");
    eddy_buf_reset(&B);
    TAP_OK(eddy_codec_encode(L, -1, "checkpoint", &B, err, sizeof err) == -1,
           "root checkpoint refused");
    TAP_STREQ(err, "checkpoint.x: a function cannot be checkpointed",
              "the root starts the path");
    TAP_OK(eddy_codec_encode(L, -1, NULL, &B, err, sizeof err) == -1,
           "NULL root refused");
    TAP_STREQ(err, "value.x: a function cannot be checkpointed",
              "a NULL root reads value");
    TAP_OK(eddy_codec_encode(L, -1, "state", &B, NULL, 0) == -1 && B.len == 0,
           "a NULL err buffer is allowed");
    lua_pop(L, 1);
    eval("{aaaaaaaaaa = {bbbbbbbbbb = {cccccccccc = {dddddddddd = print}}}}");
    char small[64];
    eddy_codec_encode(L, -1, "state", &B, small, sizeof small);
    TAP_STREQ(small, "state....dddddddddd: a function cannot be checkpointed",
              "a long path gives way, the reason stays whole");
    lua_pop(L, 1);
    /* appends after what b holds; negative index below other values */
    eddy_buf_reset(&B);
    eddy_buf_adds(&B, "k=");
    eval("{n = 1}");
    lua_pushstring(L, "other");
    TAP_OK(eddy_codec_encode(L, -2, "state", &B, err, sizeof err) == 0 &&
               B.len == 2 + 8 && memcmp(B.data, "k=\x01\x08\x01", 5) == 0,
           "encode appends to the buffer, negative index");
    TAP_OK(eddy_codec_decode(L, B.data + 2, B.len - 2, err, sizeof err) == 0 &&
               lua_istable(L, -1),
           "and the appended record decodes");
    lua_pop(L, 3);
}

static void test_decode_errors(void) {
    dec_err("", 0, "truncated state record");
    dec_err(NULL, 0, "truncated state record");
    dec_err("\x01", 1, "truncated state record");
    dec_err("\x02\x01", 2,
            "unknown state format version 2 (this eddy reads 1)");
    dec_err("\x00\x01", 2,
            "unknown state format version 0 (this eddy reads 1)");
    dec_err("\x01\x01\x01", 3, "trailing bytes");
    dec_err("\x01\x00", 2, "bad tag 0x00 at byte 1");
    dec_err("\x01\x0a", 2, "bad tag 0x0a at byte 1");
    dec_err("\x01\x08\x01\x01\x02", 5, "bad tag 0x01 at byte 3");
    dec_err("\x01\x08\x01\x08\x00\x02", 6, "bad tag 0x08 at byte 3");
    dec_err("\x01\x08\x01\x07\x02", 5, "bad tag 0x07 at byte 3");
    dec_err("\x01\x08\x02\x04\x02\x02\x04\x04\xff", 9,
            "bad tag 0xff at byte 8");
    dec_err("\x01\x08\x01\x05\x00\x00\x00\x00\x00\x00\xf8\x7f\x02", 13,
            "NaN key at byte 3");
    dec_err("\x01\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 12,
            "bad varint at byte 2");
    dec_err("\x01\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 13,
            "bad varint at byte 2");
    /* absurd lengths are checked before anything is allocated */
    dec_err("\x01\x06\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11,
            "truncated state record");
    dec_err("\x01\x08\xff\xff\xff\xff\x0f\x02\x02", 9,
            "truncated state record");
    dec_err("\x01\x06\x05"
            "abcd",
            7, "truncated state record");
    dec_err("\x01\x08\x02\x04\x02\x02", 6, "truncated state record");
    /* nesting: 64 tables decode, 65 are refused */
    char deep[400];
    size_t n = 0;
    deep[n++] = 1;
    for (int i = 0; i < 65; i++)
        memcpy(deep + n,
               "\x08\x01\x06\x01"
               "a",
               5),
            n += 5;
    deep[n - 5] = 8, deep[n - 4] = 0, n -= 3;
    dec_err(deep, n, "nesting deeper than 64 at byte 321");
    TAP_OK(dec(deep + 5, n - 5) == -1, "a record without version");
    deep[5] = 1;
    if (dec(deep + 5, n - 5) == 0) {
        lua_getglobal(L, "mk");
        lua_pushinteger(L, 64);
        lua_call(L, 1, 1);
        TAP_OK(same_top(), "64 nested tables decode");
        lua_pop(L, 2);
    }
}

/* Every proper prefix of a record fails cleanly. */
static void test_truncation(void) {
    static const char *exprs[] = {
        "{count = 3, last = 'x'}",
        "math.mininteger",
        "-0.0",
        "'hello'",
        "{1, 2.5, 'x', {a = {}, [true] = null}, [1.5] = false}",
        "setmetatable({}, amt)",
        "mk(10)"};
    for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) {
        eval(exprs[i]);
        enc_top();
        char *rec = malloc(B.len);
        size_t n = B.len;
        memcpy(rec, B.data, n);
        int bad = 0, top = lua_gettop(L);
        for (size_t k = 0; k < n; k++) {
            char *cut = malloc(k ? k : 1); /* ASan sees reads past k */
            memcpy(cut, rec, k);
            if (eddy_codec_decode(L, cut, k, err, sizeof err) != -1 ||
                strcmp(err, "truncated state record") != 0 ||
                lua_gettop(L) != top)
                bad++;
            lua_settop(L, top);
            free(cut);
        }
        TAP_OK(bad == 0, "all %zu prefixes of %s are truncated records", n,
               exprs[i]);
        TAP_OK(dec(rec, n) == 0, "the whole record decodes");
        lua_pop(L, 2);
        free(rec);
    }
}

/* Random corruption must never crash, leak stack or read out of bounds. */
static void test_corruption(void) {
    srand(12345);
    (void)luaL_dostring(L,
                        "return {count = 3, last = 'x', items = {1, 2, {f = "
                        "2.5, g = {true, false, null}}}, [1.5] = 'y', [true] = "
                        "setmetatable({}, amt), s = ('z'):rep(40)}");
    enc_top();
    lua_pop(L, 1);
    size_t n = B.len;
    char *rec = malloc(n), *buf = malloc(n);
    memcpy(rec, B.data, n);
    int bad = 0, ok = 0, top = lua_gettop(L);
    for (int it = 0; it < 100000; it++) {
        size_t len = it % 7 == 0 ? (size_t)rand() % (n + 1) : n;
        char *cut = malloc(len ? len : 1);
        memcpy(buf, rec, n);
        for (int f = 1 + rand() % 3; f > 0; f--)
            buf[1 + (size_t)rand() % (n - 1)] = (char)rand();
        if (it % 11 == 0)
            for (size_t k = 1; k < n; k++) buf[k] = (char)(rand() % 12);
        memcpy(cut, buf, len);
        err[0] = '\0';
        int rc = eddy_codec_decode(L, cut, len, err, sizeof err);
        ok += rc == 0;
        bad += lua_gettop(L) != top + (rc == 0) || (rc && !err[0]);
        lua_settop(L, top);
        free(cut);
    }
    TAP_OK(bad == 0, "100000 corrupted records: no crash, stack kept (%d ok)",
           ok);
    free(rec);
    free(buf);
}

static void test_keys(void) {
    static const lua_Integer ints[] = {
        LUA_MININTEGER, -300, -5, -1, 0, 1, 255, 256, 300, LUA_MAXINTEGER};
    char enc[10][9];
    int ok = 1;
    for (int i = 0; i < 10; i++) {
        eddy_buf_reset(&B);
        lua_pushinteger(L, ints[i]);
        ok &= eddy_codec_encode_key(L, -1, &B, err, sizeof err) == 0 &&
              B.len == 9 && lua_gettop(L) == 1;
        memcpy(enc[i], B.data, 9);
        lua_pop(L, 1);
        ok &= eddy_codec_decode_key(L, enc[i], 9) == 0 &&
              lua_isinteger(L, -1) && lua_tointeger(L, -1) == ints[i];
        lua_pop(L, 1);
    }
    TAP_OK(ok, "integer keys round-trip as 9 bytes");
    for (int i = 1; i < 10; i++)
        TAP_OK(memcmp(enc[i - 1], enc[i], 9) < 0,
               "key %lld sorts before %lld bytewise", (long long)ints[i - 1],
               (long long)ints[i]);
    lua_pushnumber(L, 300.0);
    eddy_buf_reset(&B);
    TAP_OK(eddy_codec_encode_key(L, -1, &B, err, sizeof err) == 0 &&
               B.len == 9 && memcmp(B.data, enc[8], 9) == 0,
           "300.0 is the key 300, as in a Lua table");
    lua_pop(L, 1);
    lua_pushstring(L, "1");
    eddy_buf_reset(&B);
    eddy_buf_adds(&B, "abc");
    TAP_OK(eddy_codec_encode_key(L, -1, &B, err, sizeof err) == 0 &&
               B.len == 3 + 2 && memcmp(B.data + 3, "s1", 2) == 0,
           "a string key is 's' and its bytes, appended");
    lua_pushinteger(L, 1);
    eddy_buf_reset(&B);
    eddy_codec_encode_key(L, -1, &B, err, sizeof err);
    TAP_OK(B.len == 9 && B.data[0] == 'i', "\"1\" and 1 differ");
    lua_pop(L, 2);
    TAP_OK(eddy_codec_decode_key(L, "s\0a\xff", 4) == 0 &&
               lua_rawlen(L, -1) == 3 &&
               memcmp(lua_tostring(L, -1), "\0a\xff", 3) == 0,
           "binary string keys round-trip");
    TAP_OK(eddy_codec_decode_key(L, "s", 1) == 0 && lua_rawlen(L, -1) == 0,
           "the empty string key");
    lua_pop(L, 2);
    static const char *bad[] = {"", "i", "i12345678x", "i1234567", "x1"};
    static const size_t badn[] = {0, 1, 10, 8, 2};
    for (int i = 0; i < 5; i++)
        TAP_OK(eddy_codec_decode_key(L, bad[i], badn[i]) == -1 &&
                   lua_gettop(L) == 0,
               "bad key bytes %d refused, nothing pushed", i);
    static const char *refused[] = {"1.5", "true", "{}", "nil", "0/0"};
    static const char *why[] = {
        "a state key must be a string or an integer, not a non-integral float",
        "a state key must be a string or an integer, not a boolean",
        "a state key must be a string or an integer, not a table",
        "a state key must be a string or an integer, not nil",
        "a state key must be a string or an integer, not a non-integral float"};
    for (int i = 0; i < 5; i++) {
        eval(refused[i]);
        eddy_buf_reset(&B);
        eddy_buf_adds(&B, "pre");
        TAP_OK(eddy_codec_encode_key(L, -1, &B, err, sizeof err) == -1 &&
                   B.len == 3 && lua_gettop(L) == 1,
               "key %s refused, buffer kept", refused[i]);
        TAP_STREQ(err, why[i], "message for key %s", refused[i]);
        lua_pop(L, 1);
    }
}

int main(void) {
    L = luaL_newstate();
    luaL_openlibs(L);
    eddy_buf_init(&B);
    if (luaL_dostring(L, prelude) != 0) return 1;
    lua_pushlightuserdata(L, NULL);
    lua_setglobal(L, "null");
    lua_pushlightuserdata(L, &B);
    lua_setglobal(L, "lightud");
    eddy_json_push_array_mt(L);
    lua_setglobal(L, "amt");
    test_scalars();
    test_format();
    test_tables();
    test_canonical();
    test_other_state();
    test_refusals();
    test_encode_api();
    test_decode_errors();
    test_truncation();
    test_corruption();
    test_keys();
    TAP_OK(lua_gettop(L) == 0, "stack empty at the end");
    eddy_buf_free(&B);
    lua_close(L);
    return tap_done();
}

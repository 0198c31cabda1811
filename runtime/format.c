/* format.c - turns lines into events and events into lines.
 *
 * "lines": an event is the line's text; writing takes strings as they are
 * and numbers and booleans as tostring shows them. "json": one JSON
 * document per line (json.c). On an encode error the buffer is cut back
 * to where it was, so a half-written record never reaches a sink. */
#include "format.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

int eddy_format_parse(const char *name) {
    if (name == NULL || strcmp(name, "json") == 0) return EDDY_FMT_JSON;
    if (strcmp(name, "lines") == 0) return EDDY_FMT_LINES;
    return -1;
}

const char *eddy_format_name(int fmt) {
    return fmt == EDDY_FMT_LINES ? "lines" : "json";
}

int eddy_format_decode(lua_State *L, int fmt, const char *s, size_t n,
                       char *err, size_t errlen) {
    if (fmt == EDDY_FMT_LINES) {
        lua_pushlstring(L, s, n);
        return 0;
    }
    return eddy_json_decode(L, s, n, err, errlen);
}

/* The lines format of the value at idx. */
static int encode_text(lua_State *L, int idx, eddy_buf *b, char *err,
                       size_t errlen) {
    size_t n;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        return eddy_buf_add(b, s, n);
    case LUA_TNUMBER:
    case LUA_TBOOLEAN:
        s = luaL_tolstring(L, idx, &n);
        int rc = eddy_buf_add(b, s, n);
        lua_pop(L, 1);
        return rc;
    default:
        snprintf(err, errlen,
                 "the lines format cannot write a %s "
                 "(use format = \"json\")",
                 luaL_typename(L, idx));
        return -1;
    }
}

int eddy_format_encode(lua_State *L, int fmt, int idx, eddy_buf *b, char *err,
                       size_t errlen) {
    size_t mark = b->len;
    int rc = fmt == EDDY_FMT_LINES ? encode_text(L, idx, b, err, errlen)
                                   : eddy_json_encode(L, idx, b, err, errlen);
    if (rc == 0 && eddy_buf_addc(b, '\n') == 0) return 0;
    if (rc == 0) snprintf(err, errlen, "out of memory");
    b->len = mark;
    return -1;
}

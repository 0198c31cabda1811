/* Unit tests for simulated time (clock.c) and feeds/captures (memio.c). */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "memio.h"
#include "tap.h"

typedef struct fired {
    eddy_clock *c;
    char log[256];
    eddy_alarm *again; /* re-set by the callback (periodic) */
} fired;

typedef struct named {
    fired *f;
    const char *name;
    eddy_alarm *self;
    int64_t every;
} named;

static void on_alarm(void *data) {
    named *n = data;
    size_t len = strlen(n->f->log);
    snprintf(n->f->log + len, sizeof n->f->log - len, "%s@%lld ", n->name,
             (long long)eddy_clock_now(n->f->c));
    if (n->every) eddy_alarm_set(n->self, eddy_clock_now(n->f->c) + n->every);
}

static void test_alarms(void) {
    fired f = {eddy_clock_new_sim(100), {0}, NULL};
    named a = {&f, "a", NULL, 0}, b = {&f, "b", NULL, 0},
          p = {&f, "p", NULL, 300};
    a.self = eddy_alarm_new(f.c, on_alarm, &a, 0);
    b.self = eddy_alarm_new(f.c, on_alarm, &b, 0);
    p.self = eddy_alarm_new(f.c, on_alarm, &p, 1);
    TAP_OK(eddy_clock_is_sim(f.c) && eddy_clock_now(f.c) == 100,
           "a simulated clock starts where it is told");
    eddy_alarm_set(b.self, 500);
    eddy_alarm_set(a.self, 500);
    eddy_alarm_set(p.self, 400);
    TAP_OK(eddy_clock_next(f.c) == 500,
           "the next alarm is the earliest that is not weak");
    eddy_clock_advance(f.c, 399);
    TAP_STREQ(f.log, "", "nothing fires before its time");
    eddy_clock_advance(f.c, 1000);
    TAP_STREQ(f.log, "p@400 a@500 b@500 p@700 p@1000 ",
              "alarms fire in time order, ties in creation order, each "
              "seeing its own time; a periodic one re-set on the way fires "
              "again");
    TAP_OK(eddy_clock_now(f.c) == 1000, "then the clock is where it was told");
    f.log[0] = '\0';
    eddy_alarm_set(a.self, 10); /* overdue */
    eddy_alarm_cancel(p.self);
    eddy_clock_advance(f.c, 1000);
    TAP_STREQ(f.log, "a@1000 ", "an overdue alarm fires at the next advance");
    eddy_clock_advance(f.c, 50);
    TAP_OK(eddy_clock_now(f.c) == 1000, "time never goes back");
    TAP_OK(eddy_alarm_at(p.self) == INT64_MAX &&
               eddy_clock_next(f.c) == INT64_MAX,
           "cancelled and fired alarms are not set");
    f.log[0] = '\0';
    eddy_alarm_set(b.self, 2000);
    eddy_clock_advance(f.c, INT64_MAX); /* looped for ever: unset was due */
    TAP_STREQ(f.log, "b@2000 ",
              "advancing to the end of time fires what is "
              "set, once, and returns");
    TAP_OK(eddy_clock_now(f.c) == INT64_MAX, "and the clock is there");
    eddy_alarm_free(a.self);
    eddy_alarm_free(b.self);
    eddy_alarm_free(p.self);
    eddy_clock_free(f.c);
}

static void test_memio(void) {
    lua_State *L = luaL_newstate();
    char err[256];
    eddy_feed *f = eddy_feed_new(0);
    lua_pushinteger(L, 3);
    lua_pushliteral(L, "k");
    TAP_OK(eddy_feed_add(f, L, 1, 2, 1, 77, err, sizeof err) == 0,
           "a feed takes a value with a key and a time");
    lua_settop(L, 0);
    (void)luaL_dostring(L, "return { a = 1.5, b = { 'x' } }");
    TAP_OK(eddy_feed_add(f, L, 1, 0, 0, 0, err, sizeof err) == 0,
           "and a table without either");
    lua_settop(L, 0);
    (void)luaL_dostring(L, "return { f = function() end }");
    TAP_OK(eddy_feed_add(f, L, 1, 0, 0, 0, err, sizeof err) == -1 &&
               strstr(err, "a function cannot be checkpointed"),
           "a value the codec refuses is refused with why (%s)", err);
    lua_settop(L, 0);
    TAP_OK(eddy_feed_count(f) == 2, "refused values are not kept");
    int has;
    int64_t ts;
    TAP_OK(eddy_feed_get(f, 0, L, &has, &ts, err, sizeof err) == 0 &&
               lua_isinteger(L, 1) && lua_tointeger(L, 1) == 3 &&
               !strcmp(lua_tostring(L, 2), "k") && has && ts == 77,
           "values come back with their type, key and time");
    lua_settop(L, 0);
    eddy_feed_get(f, 1, L, &has, &ts, err, sizeof err);
    lua_getfield(L, 1, "a");
    TAP_OK(lua_isnil(L, 2) && !has && lua_type(L, 3) == LUA_TNUMBER &&
               !lua_isinteger(L, 3),
           "floats stay floats; no key, no time");
    lua_settop(L, 0);
    TAP_OK(eddy_feed_step(f) == 0, "a feed without a reader delivers nothing");
    eddy_feed_free(f);

    eddy_capture *c = eddy_capture_new();
    for (int i = 0; i < 5; i++) {
        lua_pushinteger(L, i);
        eddy_capture_add(c, L, -1, i == 3 ? "late" : NULL, err, sizeof err);
        lua_pop(L, 1);
    }
    const char *side;
    eddy_capture_get(c, 3, L, &side, err, sizeof err);
    TAP_OK(eddy_capture_count(c) == 5 && side && !strcmp(side, "late") &&
               lua_tointeger(L, -1) == 3,
           "a capture keeps records in order with their side");
    lua_settop(L, 0);
    eddy_capture_truncate(c, 2);
    TAP_OK(eddy_capture_count(c) == 2, "and is cut back to a committed count");
    eddy_capture_free(c);
    lua_close(L);
}

int main(void) {
    test_alarms();
    test_memio();
    return tap_done();
}

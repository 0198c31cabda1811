/* source_memory.c - a feed (memio.h) as a source: the testing kit's input.
 *
 * The test drives delivery: each eddy_feed_step hands the feed's next
 * value to the graph (no loop watcher, so a test decides exactly how many
 * events go in between two looks at the output). The position is the
 * index of the next value, checkpointed like a file offset, so a fixed
 * feed replays after a restore. A live feed (the operator harness) never
 * ends and is not replayed. The feed belongs to the testing kit; the
 * source binds itself to it while it exists. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#include "memio.h"
#include "source.h"

typedef struct mem_src {
    eddy_source *src;
    eddy_feed *feed;
    uint64_t pos;
} mem_src;

/* Delivers value ms->pos in protected mode. [-0, +0, e] */
static int ms_deliver(lua_State *L, void *ud) {
    mem_src *ms = ud;
    int has_ts;
    int64_t ts;
    char err[256];
    const char *line;
    size_t len;
    if (eddy_feed_raw(ms->feed, ms->pos, &line, &len)) { /* decode it */
        eddy_source_line(ms->src, line, len, ms->pos);
        return 0;
    }
    if (eddy_feed_get(ms->feed, ms->pos, L, &has_ts, &ts, err, sizeof err))
        return luaL_error(L, "source %s: %s", eddy_source_name(ms->src), err);
    /* stack: ev key */
    lua_setfield(L, LUA_REGISTRYINDEX, EDDY_TEST_KEY);
    if (has_ts)
        eddy_source_value_at(ms->src, L, -1, ms->pos, ts);
    else
        eddy_source_value(ms->src, L, -1, ms->pos);
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, EDDY_TEST_KEY);
    return 0;
}

static int ms_step(void *reader) {
    mem_src *ms = reader;
    eddy_job *job = eddy_source_job(ms->src);
    if (eddy_source_halted(ms->src) || eddy_source_is_done(ms->src)) return 0;
    if (ms->pos >= eddy_feed_count(ms->feed)) {
        if (!eddy_feed_live(ms->feed)) eddy_source_finished(ms->src);
        return 0;
    }
    eddy_vm *vm = eddy_job_vm(job);
    if (eddy_vm_protect(vm, ms_deliver, ms) != 0)
        eddy_job_fail(job, "%s", eddy_vm_error(vm));
    ms->pos++;
    if (!eddy_feed_live(ms->feed) && ms->pos == eddy_feed_count(ms->feed) &&
        !eddy_source_halted(ms->src))
        eddy_source_finished(ms->src);
    return 1;
}

static int ms_start(void *impl, char *err, size_t errlen) {
    mem_src *ms = impl;
    eddy_feed_bind(ms->feed, ms_step, ms);
    return 0;
}

static void ms_stop(void *impl) {
    mem_src *ms = impl;
    eddy_feed_bind(ms->feed, NULL, NULL);
}

static void ms_free(void *impl) {
    mem_src *ms = impl;
    eddy_feed_bind(ms->feed, NULL, NULL);
    free(ms);
}

/* [-0, +1, m] */
static void ms_snapshot(void *impl, lua_State *L) {
    mem_src *ms = impl;
    if (eddy_feed_live(ms->feed)) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, (lua_Integer)ms->pos);
    lua_setfield(L, -2, "index");
}

/* [-0, +0, m] */
static int ms_restore(void *impl, lua_State *L, int idx, char *err,
                      size_t errlen) {
    mem_src *ms = impl;
    lua_getfield(L, idx, "index");
    lua_Integer pos = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (pos < 0 || (size_t)pos > eddy_feed_count(ms->feed)) {
        snprintf(err, errlen,
                 "source %s: checkpointed at input %lld but "
                 "the test gives %zu inputs",
                 eddy_source_name(ms->src), (long long)pos,
                 eddy_feed_count(ms->feed));
        return -1;
    }
    ms->pos = (uint64_t)pos;
    return 0;
}

static const eddy_source_ops memory_ops = {ms_start, ms_stop, ms_free,
                                           ms_snapshot, ms_restore};

int eddy_source_memory_init(eddy_source *s, lua_State *L, int desc, char *err,
                            size_t errlen) {
    lua_getfield(L, desc, "feed");
    eddy_feed *feed = lua_touserdata(L, -1);
    lua_pop(L, 1);
    mem_src *ms = feed ? calloc(1, sizeof *ms) : NULL;
    if (ms == NULL) {
        snprintf(err, errlen, "source %s: %s", eddy_source_name(s),
                 feed ? "out of memory" : "a memory source needs a feed");
        return -1;
    }
    ms->src = s;
    ms->feed = feed;
    eddy_source_attach(s, &memory_ops, ms);
    return 0;
}

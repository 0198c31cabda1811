/* vm.c - the Lua state, its allocator and the protected-call helper.
 *
 * Every call from C into Lua goes through eddy_vm_call: a traceback
 * handler, error capture into a C buffer (callers never handle Lua error
 * objects), and the time limit. The limit costs nothing on the hot path: a
 * watchdog thread watches a call sequence number; when one top-level call
 * has run past limits.event_ms it sets an instruction-count hook (as lua.c
 * does from its SIGINT handler). The hook raises an error and stays armed,
 * so a script's own pcall cannot swallow it, until the outermost call
 * returns. The allocator counts bytes and refuses growth past the cap; Lua
 * then collects garbage and raises a memory error if still short. The
 * collector runs in generational mode.
 * Blocks up to EDDY_POOL_MAX bytes come from a pool (pool.c).
 * The vm owns the lua_State, the pool, the watchdog thread and the error
 * buffer. */
#include "vm.h"

#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "pool_impl.h"
#include "texts.h"

#define EDDY_NOINLINE __attribute__((noinline))

struct eddy_vm {
    lua_State *L;
    size_t mem, mem_cap;
    int relaxed;                  /* runtime bookkeeping: cap + reserve */
    int depth;                    /* nesting of eddy_vm_call */
    atomic_uint_fast64_t seq;     /* bumped per top-level call */
    atomic_int busy;              /* depth > 0, for the watchdog */
    atomic_uint_fast64_t expired; /* seq the watchdog declared overdue */
    atomic_uint ticks;            /* the watchdog's ticks (50 ms at most) */
    _Atomic int64_t event_ms;     /* 0: no limit */
    pthread_t wd;
    int wd_running;
    atomic_int wd_stop;
    pthread_mutex_t wd_mu; /* with wd_cv: wakes the watchdog to stop */
    pthread_cond_t wd_cv;
    eddy_buf err;
    int err_kind;
    eddy_pool *pool;    /* small blocks of the Lua heap (pool.c) */
    eddy_texts *texts;  /* where scripts are read (the job's; may be NULL) */
    eddy_buf text;      /* the last script read */
    uint64_t text_hash; /* and its hash */
};

/* Under AddressSanitizer the pool is off, so that ASan sees every block. */
#if defined(__SANITIZE_ADDRESS__)
#define USE_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_POOL 0
#endif
#endif
#ifndef USE_POOL
#define USE_POOL 1
#endif

/* Moves a block of old bytes (ptr may be NULL) to one of n > 0 bytes:
 * small blocks from the pool, large ones from malloc. NULL when out of
 * memory (the old block is then untouched). The allocator's slow path. */
EDDY_NOINLINE static void *heap_realloc(eddy_vm *vm, void *ptr, size_t old,
                                        size_t n) {
    int small_old = ptr != NULL && old <= EDDY_POOL_MAX;
    int small_new = n <= EDDY_POOL_MAX;
    if (!USE_POOL || (ptr != NULL && !small_old && !small_new))
        return realloc(ptr, n);
    if (ptr == NULL) return small_new ? eddy_pool_take(vm->pool, n) : malloc(n);
    if (small_old && small_new && eddy_pool_same(old, n)) return ptr;
    void *q = small_new ? eddy_pool_take(vm->pool, n) : malloc(n);
    if (q == NULL) return NULL;
    memcpy(q, ptr, old < n ? old : n);
    if (small_old)
        eddy_pool_give(vm->pool, ptr, old);
    else
        free(ptr);
    return q;
}

/* The allocator's general case: the cap, then heap_realloc. */
EDDY_NOINLINE static void *vm_realloc(eddy_vm *vm, void *ptr, size_t osize,
                                      size_t nsize) {
    size_t old = ptr ? osize : 0;
    if (nsize > old && vm->mem_cap) {
        size_t cap = vm->mem_cap;
        if (vm->relaxed) cap += cap / 8 + ((size_t)1 << 20);
        if (vm->mem + (nsize - old) > cap) return NULL;
    }
    void *p = heap_realloc(vm, ptr, old, nsize);
    if (p == NULL) return NULL;
    vm->mem = vm->mem - old + nsize;
    return p;
}

/* A block Lua frees that the pool did not give. */
EDDY_NOINLINE static void *vm_free(eddy_vm *vm, void *ptr, size_t osize) {
    free(ptr);
    vm->mem -= osize;
    return NULL;
}

/* lua_Alloc. The steady cases (a small block freed or made with no cap
 * set; Lua freeing an empty array as NULL) take or give a pool block with
 * no call, so this stays a leaf; the rest goes to vm_realloc/vm_free. */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    eddy_vm *vm = ud;
    if (nsize == 0) {
        if (ptr == NULL) return NULL;
        if (!USE_POOL || osize > EDDY_POOL_MAX) return vm_free(vm, ptr, osize);
        eddy_pool_give(vm->pool, ptr, osize);
        vm->mem -= osize;
        return NULL;
    }
    if (USE_POOL && ptr == NULL && nsize <= EDDY_POOL_MAX && !vm->mem_cap) {
        void *p = eddy_pool_take(vm->pool, nsize);
        if (p != NULL) vm->mem += nsize;
        return p;
    }
    return vm_realloc(vm, ptr, osize, nsize);
}

eddy_vm *eddy_vm_of(lua_State *L) {
    return *(eddy_vm **)lua_getextraspace(L);
}

/* Whether the error being handled was raised with error() by eddy's job
 * DSL (lua/eddy/init.lua) rather than by a fault inside it: level 1 is a
 * C function (error) and level 2 a function of that file. */
static int raised_by_dsl(lua_State *L) {
    static const char dsl[] = "/eddy/init.lua";
    lua_Debug ar;
    if (!lua_getstack(L, 1, &ar) || !lua_getinfo(L, "S", &ar) ||
        ar.what[0] != 'C' || !lua_getstack(L, 2, &ar) ||
        !lua_getinfo(L, "S", &ar))
        return 0;
    size_t n = strlen(ar.source), k = sizeof dsl - 1;
    return ar.source[0] == '@' && n > k && strcmp(ar.source + n - k, dsl) == 0;
}

/* Message handler: turns any error value into "message\ntraceback". An
 * error from the job DSL is a usage error that names the job file's line
 * itself: it gets no traceback, whose frames would all be eddy's.
 * [-1, +1, m] */
static int vm_traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)",
                                  luaL_typename(L, 1));
    }
    if (raised_by_dsl(L))
        lua_pushstring(L, msg);
    else
        luaL_traceback(L, L, msg, 1);
    return 1;
}

/* print(...) as Lua's, but to stderr: stdout carries only stdout sinks
 * and command output. [-n, +0, e] */
static int vm_print(lua_State *L) {
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1) fputc('\t', stderr);
        fwrite(s, 1, len, stderr);
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

eddy_vm *eddy_vm_new(void) {
    eddy_vm *vm = calloc(1, sizeof *vm);
    if (vm == NULL) return NULL;
    eddy_buf_init(&vm->err);
    eddy_buf_init(&vm->text);
    vm->pool = eddy_pool_new();
    vm->L = vm->pool ? lua_newstate(vm_alloc, vm) : NULL;
    if (vm->L == NULL) {
        eddy_pool_free(vm->pool);
        free(vm);
        return NULL;
    }
    *(eddy_vm **)lua_getextraspace(vm->L) = vm;
    luaL_openlibs(vm->L);
    lua_pushcfunction(vm->L, vm_print);
    lua_setglobal(vm->L, "print");
    /* Generational collection suits a stream job: per-key state lives long,
     * events and outputs die young. Measured (bench/RESULTS.md) 10-20%
     * faster than incremental on keyed jobs, with a smaller heap. A job
     * file may still call collectgarbage("incremental"). */
    lua_gc(vm->L, LUA_GCGEN, 0, 0);
    return vm;
}

void eddy_vm_free(eddy_vm *vm) {
    if (vm == NULL) return;
    if (vm->wd_running) { /* wake it now rather than after its tick */
        pthread_mutex_lock(&vm->wd_mu);
        atomic_store(&vm->wd_stop, 1);
        pthread_cond_signal(&vm->wd_cv);
        pthread_mutex_unlock(&vm->wd_mu);
        pthread_join(vm->wd, NULL);
        pthread_cond_destroy(&vm->wd_cv);
        pthread_mutex_destroy(&vm->wd_mu);
    }
    lua_close(vm->L);
    eddy_pool_free(vm->pool); /* after lua_close: it frees into the pool */
    eddy_buf_free(&vm->err);
    eddy_buf_free(&vm->text);
    free(vm);
}

lua_State *eddy_vm_state(eddy_vm *vm) {
    return vm->L;
}
size_t eddy_vm_memory(const eddy_vm *vm) {
    return vm->mem;
}

int eddy_vm_relax(eddy_vm *vm, int on) {
    int was = vm->relaxed;
    vm->relaxed = on;
    return was;
}
const char *eddy_vm_error(const eddy_vm *vm) {
    return vm->err.len ? vm->err.data : "unknown error";
}
int eddy_vm_error_kind(const eddy_vm *vm) {
    return vm->err_kind;
}

/* Count hook set by the watchdog: raises while the overdue call runs. */
static void vm_hook(lua_State *L, lua_Debug *ar) {
    eddy_vm *vm = eddy_vm_of(L);
    if (vm->depth == 0 || atomic_load(&vm->expired) != atomic_load(&vm->seq)) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    luaL_where(L, 0); /* the Lua function running, not its caller */
    lua_pushfstring(L, "call took longer than %d ms (limits.event_ms)",
                    (int)atomic_load(&vm->event_ms));
    lua_concat(L, 2);
    lua_error(L);
}

/* Sleeps ms milliseconds, or less when eddy_vm_free wakes it. */
static void wd_sleep(eddy_vm *vm, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&vm->wd_mu);
    if (!atomic_load(&vm->wd_stop))
        pthread_cond_timedwait(&vm->wd_cv, &vm->wd_mu, &ts);
    pthread_mutex_unlock(&vm->wd_mu);
}

static void *vm_watchdog(void *arg) {
    eddy_vm *vm = arg;
    uint_fast64_t seen = 0;
    int64_t since = 0;
    while (!atomic_load(&vm->wd_stop)) {
        int64_t tick = atomic_load(&vm->event_ms) / 10;
        if (tick < 2) tick = 2;
        if (tick > 50) tick = 50;
        wd_sleep(vm, tick);
        if (atomic_load(&vm->wd_stop)) break;
        atomic_fetch_add_explicit(&vm->ticks, 1, memory_order_relaxed);
        uint_fast64_t s = atomic_load(&vm->seq);
        int64_t now = eddy_clock_mono_ms();
        if (!atomic_load(&vm->busy) || s != seen) {
            seen = s;
            since = now;
            continue;
        }
        int64_t limit = atomic_load(&vm->event_ms);
        if (limit > 0 && now - since >= limit &&
            atomic_load(&vm->expired) != s) {
            atomic_store(&vm->expired, s);
            lua_sethook(vm->L, vm_hook, LUA_MASKCOUNT, 1);
        }
    }
    return NULL;
}

int eddy_vm_set_limits(eddy_vm *vm, int64_t event_ms, size_t memory_bytes) {
    vm->mem_cap = memory_bytes;
    atomic_store(&vm->event_ms, event_ms);
    if (event_ms > 0 && !vm->wd_running) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_mutex_init(&vm->wd_mu, NULL);
        int rc = pthread_cond_init(&vm->wd_cv, &ca);
        pthread_condattr_destroy(&ca);
        if (rc == 0 && pthread_create(&vm->wd, NULL, vm_watchdog, vm) == 0) {
            vm->wd_running = 1;
            return 0;
        }
        if (rc == 0) pthread_cond_destroy(&vm->wd_cv);
        pthread_mutex_destroy(&vm->wd_mu);
        return -1;
    }
    return 0;
}

/* Copies the error at the top into vm->err and pops it. [-1, +0, -] */
static void vm_take_error(eddy_vm *vm, int status) {
    lua_State *L = vm->L;
    size_t n = 0;
    const char *s = lua_tolstring(L, -1, &n);
    eddy_buf_reset(&vm->err);
    if (status == LUA_ERRMEM) {
        vm->err_kind = EDDY_ERR_MEMORY;
        if (vm->mem_cap)
            eddy_buf_addf(&vm->err,
                          "Lua memory limit of %zu MB exceeded "
                          "(limits.memory_mb)",
                          vm->mem_cap >> 20);
        else
            eddy_buf_adds(&vm->err, "not enough memory");
    } else {
        vm->err_kind = (s && strstr(s, "(limits.event_ms)")) ? EDDY_ERR_TIMEOUT
                                                             : EDDY_ERR_RUNTIME;
        eddy_buf_add(&vm->err, s ? s : "error", s ? n : 5);
    }
    eddy_buf_addc(&vm->err, '\0');
    vm->err.len--;
    lua_pop(L, 1);
}

void eddy_vm_push_handler(eddy_vm *vm) {
    lua_pushcfunction(vm->L, vm_traceback);
}

/* Only the loop thread writes seq and busy, and the watchdog only samples
 * them every few ms: relaxed plain stores (no locked instruction per call)
 * are enough. */
static inline void vm_enter(eddy_vm *vm) {
    uint_fast64_t s = atomic_load_explicit(&vm->seq, memory_order_relaxed);
    atomic_store_explicit(&vm->seq, s + 1, memory_order_relaxed);
    atomic_store_explicit(&vm->busy, 1, memory_order_relaxed);
}

int eddy_vm_pcall(eddy_vm *vm, int h, int nargs, int nres) {
    lua_State *L = vm->L;
    if (vm->depth++ == 0) vm_enter(vm);
    int status = lua_pcall(L, nargs, nres, h);
    if (--vm->depth == 0) {
        atomic_store_explicit(&vm->busy, 0, memory_order_relaxed);
        if (lua_gethookmask(L)) lua_sethook(L, NULL, 0, 0);
    }
    if (status == LUA_OK) return 0;
    vm_take_error(vm, status);
    if (vm->err_kind == EDDY_ERR_TIMEOUT && vm->depth > 0) {
        lua_sethook(L, NULL, 0, 0); /* the caller gets a fresh budget */
        atomic_fetch_add(&vm->seq, 1);
    }
    return -1;
}

int eddy_vm_call(eddy_vm *vm, int nargs, int nres) {
    lua_State *L = vm->L;
    int base = lua_gettop(L) - nargs;
    /* stack: ... fn args */
    lua_pushcfunction(L, vm_traceback);
    lua_insert(L, base);
    /* stack: ... handler fn args */
    int rc = eddy_vm_pcall(vm, base, nargs, nres);
    lua_remove(L, base);
    return rc;
}

typedef struct protected_call {
    eddy_protected_fn fn;
    void *ud;
    int rc;
} protected_call;

/* [-1, +0, e] */
static int vm_trampoline(lua_State *L) {
    protected_call *pc = lua_touserdata(L, 1);
    lua_pop(L, 1);
    pc->rc = pc->fn(L, pc->ud);
    return 0;
}

int eddy_vm_protect(eddy_vm *vm, eddy_protected_fn fn, void *ud) {
    protected_call pc = {fn, ud, 0};
    lua_State *L = vm->L;
    int base = lua_gettop(L) + 1;
    lua_pushcfunction(L, vm_traceback);
    lua_pushcfunction(L, vm_trampoline);
    lua_pushlightuserdata(L, &pc);
    /* stack: handler trampoline pc. Not an eddy_vm_call: the calls into
     * user code inside each get their own time limit. */
    int status = lua_pcall(L, 1, 0, base);
    if (status != LUA_OK) {
        vm_take_error(vm, status);
        lua_settop(L, base - 1);
        return -1;
    }
    lua_settop(L, base - 1);
    if (pc.rc != 0) {
        eddy_buf_reset(&vm->err);
        eddy_buf_adds(&vm->err, "failed");
        eddy_buf_addc(&vm->err, '\0');
        vm->err.len--;
        return -1;
    }
    return 0;
}

unsigned eddy_vm_ticks(eddy_vm *vm) {
    return atomic_load_explicit(&vm->ticks, memory_order_relaxed);
}

void eddy_vm_set_texts(eddy_vm *vm, eddy_texts *texts) {
    vm->texts = texts;
}

eddy_texts *eddy_vm_texts(const eddy_vm *vm) {
    return vm->texts;
}

uint64_t eddy_vm_text_hash(const eddy_vm *vm) {
    return vm->text_hash;
}

/* As luaL_loadfilex: a UTF-8 byte order mark and a first line starting
 * with '#' are skipped (its newline kept, so line numbers stay right). */
int eddy_vm_load_file(eddy_vm *vm, const char *path) {
    char err[4200], name[4096];
    if (eddy_texts_read(vm->texts, path, &vm->text, err, sizeof err) != 0) {
        lua_pushstring(vm->L, err);
        vm_take_error(vm, LUA_ERRFILE);
        return -1;
    }
    const char *s = vm->text.data ? vm->text.data : "";
    const char *end = s + vm->text.len;
    vm->text_hash = eddy_texts_hash(s, vm->text.len);
    if (end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3;
    if (s < end && *s == '#')
        while (s < end && *s != '\n') s++;
    snprintf(name, sizeof name, "@%s", path);
    int status = luaL_loadbufferx(vm->L, s, (size_t)(end - s), name, "t");
    if (status != LUA_OK) {
        vm_take_error(vm, status);
        return -1;
    }
    return 0;
}

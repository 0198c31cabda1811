/* vm.h - the Lua state eddy runs user code in, and the one way to call it. */
#ifndef EDDY_VM_H
#define EDDY_VM_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eddy_vm eddy_vm;

enum { EDDY_ERR_NONE, EDDY_ERR_RUNTIME, EDDY_ERR_TIMEOUT, EDDY_ERR_MEMORY };

/* A fresh Lua 5.4 state with the standard libraries, a counting allocator
 * and no limits. NULL when out of memory. */
eddy_vm *eddy_vm_new(void);
void eddy_vm_free(eddy_vm *vm);
lua_State *eddy_vm_state(eddy_vm *vm);
/* The vm that owns L (also from coroutines of it). */
eddy_vm *eddy_vm_of(lua_State *L);

/* event_ms: longest a call into Lua may run (0: no limit); memory_bytes:
 * cap on the Lua heap (0: none). Returns 0, or -1 if the watchdog thread
 * cannot start. */
int eddy_vm_set_limits(eddy_vm *vm, int64_t event_ms, size_t memory_bytes);
size_t eddy_vm_memory(const eddy_vm *vm);
/* While on, the heap may exceed limits.memory_mb by a reserve (an eighth
 * plus 1 MB), so that the runtime can still report an error the limit
 * caused (a dead letter, a log line). Returns the previous setting. */
int eddy_vm_relax(eddy_vm *vm, int on);

/* Calls the function below the nargs arguments on the stack, protected, with
 * a traceback handler and under the time limit. Nested calls (from C
 * functions called by Lua) share the outer call's deadline.
 * On success leaves nres results and returns 0. On error leaves nothing,
 * returns -1, and eddy_vm_error() holds the message with traceback.
 * [-(nargs+1), +(nres|0), -] */
int eddy_vm_call(eddy_vm *vm, int nargs, int nres);
/* The same for hot paths that make several calls: push the handler once
 * with eddy_vm_push_handler ([-0, +1, -]) and pass its index h (below the
 * function). [-(nargs+1), +(nres|0), -] */
void eddy_vm_push_handler(eddy_vm *vm);
int eddy_vm_pcall(eddy_vm *vm, int h, int nargs, int nres);
const char *eddy_vm_error(const eddy_vm *vm);
/* Counts the time-limit watchdog's ticks, one every 50 ms at most while
 * limits.event_ms is set (else it stays 0): a cheap way to notice, per
 * event, that time has passed. */
unsigned eddy_vm_ticks(eddy_vm *vm);
/* Runs fn(L, ud) in protected mode, so that an error the Lua API raises
 * there (out of memory, under limits.memory_mb) cannot escape to C code
 * without a handler. fn returns 0, or -1 to report its own failure (then
 * eddy_vm_error says "failed"). 0, or -1 with eddy_vm_error set.
 * [-0, +0, -] */
typedef int (*eddy_protected_fn)(lua_State *L, void *ud);
int eddy_vm_protect(eddy_vm *vm, eddy_protected_fn fn, void *ud);
/* The kind of the last error: EDDY_ERR_RUNTIME, _TIMEOUT or _MEMORY. */
int eddy_vm_error_kind(const eddy_vm *vm);
/* Loads a script as text only (never bytecode) and leaves its chunk on the
 * stack: returns 0, or -1 with the error (file:line) in eddy_vm_error.
 * [-0, +(1|0), -] */
int eddy_vm_load_file(eddy_vm *vm, const char *path);
/* Where eddy_vm_load_file reads scripts (texts.h; the job owns it): NULL,
 * the default, reads the files and keeps nothing. */
typedef struct eddy_texts eddy_texts;
void eddy_vm_set_texts(eddy_vm *vm, eddy_texts *texts);
eddy_texts *eddy_vm_texts(const eddy_vm *vm);
/* The hash (eddy_texts_hash) of the text eddy_vm_load_file last read. */
uint64_t eddy_vm_text_hash(const eddy_vm *vm);

#endif

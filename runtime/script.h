/* script.h - loading user scripts (operators, script sources). */
#ifndef EDDY_SCRIPT_H
#define EDDY_SCRIPT_H

#include "vm.h"

/* Loads path as text in a fresh environment (globals fall back to _G, but
 * writes stay in the script's own table), runs its top level under the time
 * limit and checks that it returned a table. On success pushes that table
 * and returns 0; else returns -1 with "file:line: message" in err.
 * [-0, +(1|0), -] */
int eddy_script_load(eddy_vm *vm, const char *path, char *err, size_t errlen);

/* Copies the vm's last error into err, trimmed to its first line when
 * short is set (the traceback follows the first line). */
void eddy_script_error(eddy_vm *vm, char *err, size_t errlen);

#endif

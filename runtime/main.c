/* main.c - the eddy command line.
 *
 * Parses the command, finds eddy's own Lua modules relative to the
 * executable (build tree or installed prefix, no environment needed) and
 * hands over to the job module. Exit codes: 0 done, 1 job failed,
 * 2 usage or job-definition error. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "inspect.h"
#include "job.h"
#include "log.h"

static const char usage[] =
    "usage: eddy <command> [args]\n"
    "\n"
    "  run JOB.lua [--state-dir DIR] [--metrics HOST:PORT] [--log-level "
    "LEVEL]\n"
    "                        run a job until its bounded sources are drained\n"
    "                        (or SIGINT/SIGTERM); resumes from the last\n"
    "                        checkpoint in the state dir (default\n"
    "                        ./eddy-state/<job name>); exit 0 done,\n"
    "                        1 failed, 2 bad job file\n"
    "  check JOB.lua         load and validate a job and its scripts\n"
    "  state DIR [--operator NAME] [--key KEY]\n"
    "                        print the checkpointed state as NDJSON\n"
    "  checkpoints DIR       print the checkpoint history as NDJSON\n"
    "  test [BUSTED ARGS]    run busted (Lua 5.4) with eddy's modules\n"
    "  --help, --version\n"
    "\n"
    "--metrics serves Prometheus text at /metrics and JSON at /health\n"
    "(HOST defaults to 127.0.0.1; PORT 0 picks a free port, logged).\n"
    "Log levels: debug, info, warn, error (default info). Logs go to stderr;\n"
    "on a terminal a status line shows events/s, lag and checkpoint age.\n";

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Finds the directory of eddy's Lua modules and of the eddy.core module
 * (the cpath pattern base). */
static void find_dirs(char *lua_dir, char *c_dir, size_t n) {
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    const char *env = getenv("EDDY_LUA_DIR");
    snprintf(probe, sizeof probe, "%s/../share/lua/5.4/eddy/init.lua", exe);
    if (env) {
        snprintf(lua_dir, n, "%s", env);
        snprintf(c_dir, n, "%s/../lib", exe);
    } else if (exists(probe)) {
        snprintf(lua_dir, n, "%s/../share/lua/5.4", exe);
        snprintf(c_dir, n, "%s/../lib/lua/5.4", exe);
    } else {
        snprintf(lua_dir, n, "%s/../../lua", exe);
        snprintf(c_dir, n, "%s/../lib", exe);
    }
}

/* Options after the job file: --state-dir, --log-level, --metrics. */
static int parse_run_opts(int argc, char **argv, eddy_job_config *cfg,
                          const char **metrics) {
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "eddy: %s needs a value\n", a);
            return -1;
        }
        if (strcmp(a, "--state-dir") == 0) {
            cfg->state_dir = argv[++i];
        } else if (strcmp(a, "--log-level") == 0) {
            if (eddy_log_set_level(argv[++i]) != 0) {
                fprintf(stderr, "eddy: unknown log level %s\n", argv[i]);
                return -1;
            }
        } else if (strcmp(a, "--metrics") == 0) {
            char host[256], err[512];
            int port;
            *metrics = argv[++i];
            if (eddy_http_parse_addr(argv[i], host, sizeof host, &port, err,
                                     sizeof err) != 0) {
                fprintf(stderr, "eddy: %s\n", err);
                return -1;
            }
        } else {
            fprintf(stderr, "eddy: unknown option %s\n%s", a, usage);
            return -1;
        }
    }
    return 0;
}

static int cmd_run(int argc, char **argv, int check_only) {
    char lua_dir[PATH_MAX], c_dir[PATH_MAX], err[8192];
    eddy_job_config cfg = {0};
    if (argc < 3) {
        fprintf(stderr, "eddy: %s needs a job file\n%s", argv[1], usage);
        return 2;
    }
    cfg.job_file = argv[2];
    cfg.check_only = check_only;
    const char *metrics = NULL;
    if (parse_run_opts(argc, argv, &cfg, &metrics) != 0) return 2;
    find_dirs(lua_dir, c_dir, sizeof lua_dir);
    cfg.lua_dir = lua_dir;
    eddy_job *job = eddy_job_load(&cfg, err, sizeof err);
    if (job == NULL) {
        fprintf(stderr, "eddy: %s\n", err);
        return 2;
    }
    int rc = 0;
    eddy_job_set_metrics(job, metrics);
    if (check_only)
        fprintf(stderr, "eddy: %s is valid\n", argv[2]);
    else
        rc = eddy_job_run(job);
    eddy_job_free(job);
    return rc;
}

/* eddy state DIR [--operator NAME] [--key KEY] / eddy checkpoints DIR */
static int cmd_inspect(int argc, char **argv, int state) {
    const char *op = NULL, *key = NULL;
    char err[1024];
    if (argc < 3) {
        fprintf(stderr, "eddy: %s needs a state dir\n%s", argv[1], usage);
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (state && i + 1 < argc && strcmp(argv[i], "--operator") == 0)
            op = argv[++i];
        else if (state && i + 1 < argc && strcmp(argv[i], "--key") == 0)
            key = argv[++i];
        else {
            fprintf(stderr, "eddy: unknown option %s\n%s", argv[i], usage);
            return 2;
        }
    }
    int rc = state
                 ? eddy_inspect_state(argv[2], op, key, stdout, err, sizeof err)
                 : eddy_inspect_checkpoints(argv[2], stdout, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "eddy: %s\n", err);
        return 1;
    }
    return 0;
}

/* eddy test: busted under lua5.4 with our modules on the path. */
static int cmd_test(int argc, char **argv) {
    char lua_dir[PATH_MAX], c_dir[PATH_MAX], buf[3 * PATH_MAX];
    find_dirs(lua_dir, c_dir, sizeof lua_dir);
    const char *old = getenv("LUA_PATH_5_4");
    snprintf(buf, sizeof buf, "%s/?.lua;%s/?/init.lua;%s", lua_dir, lua_dir,
             old ? old : ";;");
    setenv("LUA_PATH_5_4", buf, 1);
    old = getenv("LUA_CPATH_5_4");
    snprintf(buf, sizeof buf, "%s/?.so;%s", c_dir, old ? old : ";;");
    setenv("LUA_CPATH_5_4", buf, 1);
    const char *busted =
        exists("/usr/bin/busted") ? "/usr/bin/busted" : "/usr/local/bin/busted";
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (args == NULL) return 2;
    args[0] = "lua5.4";
    args[1] = (char *)busted;
    for (int i = 2; i < argc; i++) args[i] = argv[i];
    execvp("lua5.4", args);
    fprintf(stderr, "eddy test: cannot run lua5.4: %s\n", strerror(errno));
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("eddy %s\n", EDDY_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc, argv, 0);
    if (!strcmp(cmd, "check")) return cmd_run(argc, argv, 1);
    if (!strcmp(cmd, "test")) return cmd_test(argc, argv);
    if (!strcmp(cmd, "state")) return cmd_inspect(argc, argv, 1);
    if (!strcmp(cmd, "checkpoints")) return cmd_inspect(argc, argv, 0);
    fprintf(stderr, "eddy: unknown command %s\n%s", cmd, usage);
    return 2;
}

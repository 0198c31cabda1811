/* test_fuzz_regressions.c - the fuzzers' checks, kept running in make test.
 *
 * Replays every file of fuzz/corpus/<target>/ through the very checks the
 * libFuzzer targets run (fuzz/fuzz_<target>.c, included here without their
 * entry points): its own target's, and the two others' too (any bytes are
 * valid input for all three). Then a few edge inputs the fuzzers reach only
 * by luck (nesting limits) go through the same checks with their expected
 * outcome. An input that once broke an invariant belongs in fuzz/corpus/
 * (and, for a bug, in a case below with its exact bytes).
 *
 * The corpus is found from the current directory (make test runs at the
 * repo root), from this source file's path, or from the binary's path
 * (build/tests/ -> ../../fuzz/corpus); EDDY_FUZZ_CORPUS overrides. */
#define FZ_NO_MAIN
#include "../../fuzz/fuzz_json.c"
#include "../../fuzz/fuzz_lines.c"
#include "../../fuzz/fuzz_state_codec.c"

#include <dirent.h>
#include <limits.h>
#include <lualib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static lua_State *L;

static const char *const targets[] = {"lines", "json", "state_codec"};
#define NTARGETS 3

/* Runs data through one target's checks; 1 if every invariant held, else
 * 0 with the failure in fz_msg. */
static int run_target(int t, const uint8_t *data, size_t n) {
    static jmp_buf jb;
    fz_msg[0] = '\0';
    fz_jmp = &jb;
    if (setjmp(jb)) {
        fz_jmp = NULL;
        lua_settop(L, 0);
        return 0;
    }
    if (t == 0) fz_lines_check(data, n);
    if (t == 1) fz_json_check(L, data, n);
    if (t == 2) fz_state_codec_check(L, data, n);
    fz_jmp = NULL;
    FZ_CHECK(lua_gettop(L) == 0);
    return 1;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Writes into out the corpus directory, or returns 0. */
static int find_corpus(char *out, size_t outlen) {
    char cand[4][PATH_MAX];
    int n = 0;
    const char *env = getenv("EDDY_FUZZ_CORPUS");
    if (env && *env) snprintf(cand[n++], PATH_MAX, "%s", env);
    snprintf(cand[n++], PATH_MAX, "fuzz/corpus");
    const char *src = __FILE__, *slash = strrchr(src, '/');
    snprintf(cand[n++], PATH_MAX, "%.*s../../fuzz/corpus",
             slash ? (int)(slash - src + 1) : 0, src);
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        char *e = strrchr(exe, '/');
        if (e) *e = '\0';
        snprintf(cand[n++], PATH_MAX, "%.*s/../../fuzz/corpus", PATH_MAX - 32,
                 exe);
    }
    for (int i = 0; i < n; i++)
        if (is_dir(cand[i])) {
            snprintf(out, outlen, "%s", cand[i]);
            return 1;
        }
    return 0;
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    uint8_t *b = malloc(cap);
    for (size_t r; b && (r = fread(b + len, 1, cap - len, f)) > 0;) {
        len += r;
        if (len == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    *n = len;
    return b;
}

static int not_hidden(const struct dirent *d) {
    return d->d_name[0] != '.';
}

/* Replays the files of dir/<targets[t]>; returns how many. */
static int replay_dir(const char *dir, int t) {
    char path[PATH_MAX];
    struct dirent **names;
    snprintf(path, sizeof path, "%s/%s", dir, targets[t]);
    int n = scandir(path, &names, not_hidden, alphasort), files = 0;
    for (int i = 0; i < n; i++) {
        char file[PATH_MAX];
        size_t len = 0;
        snprintf(file, sizeof file, "%.*s/%s", PATH_MAX - 300, path,
                 names[i]->d_name);
        uint8_t *data = read_file(file, &len);
        if (data == NULL) {
            TAP_OK(0, "read %s", file);
            free(names[i]);
            continue;
        }
        files++;
        int ok = run_target(t, data, len);
        TAP_OK(ok, "%s/%s (%zu bytes) holds the %s invariants", targets[t],
               names[i]->d_name, len, targets[t]);
        if (!ok) printf("#   %s\n", fz_msg);
        int others = 1;
        char why[sizeof fz_msg + 16] = "";
        for (int o = 0; o < NTARGETS; o++)
            if (o != t && !run_target(o, data, len)) {
                if (others)
                    snprintf(why, sizeof why, "%s: %s", targets[o], fz_msg);
                others = 0;
            }
        TAP_OK(others, "%s/%s holds the other targets' invariants too",
               targets[t], names[i]->d_name);
        if (!others) printf("#   %s\n", why);
        free(data);
        free(names[i]);
    }
    if (n >= 0) free(names);
    return files;
}

/* n copies of open then n of close around mid. */
static char *nest(const char *open, const char *mid, const char *close, int n,
                  size_t *len) {
    size_t a = strlen(open), m = strlen(mid), c = strlen(close);
    char *s = malloc((size_t)n * (a + c) + m + 1), *p = s;
    for (int i = 0; i < n; i++) memcpy(p, open, a), p += a;
    memcpy(p, mid, m), p += m;
    for (int i = 0; i < n; i++) memcpy(p, close, c), p += c;
    *p = '\0';
    *len = (size_t)(p - s);
    return s;
}

/* A state record of n tables nested under key "a": 01 (08 01 06 01 'a')^n
 * 01 (a nil at the bottom). */
static char *nested_record(int n, size_t *len) {
    char *s = malloc(2 + 5 * (size_t)n), *p = s;
    *p++ = 1;
    for (int i = 0; i < n; i++)
        memcpy(p, "\x08\x01\x06\x01\x61", 5), p += 5; /* 0x61: 'a' */
    *p++ = 1;
    *len = (size_t)(p - s);
    return s;
}

/* Generator program for the state_codec target: n tables nested under
 * integer keys 0 (value op 10: table; byte 1: one entry; byte 0: no
 * presizing; key op 0 and byte 0: the key 0). */
static char *nested_program(int n, size_t *len) {
    char *s = malloc(5 * (size_t)n + 1), *p = s;
    for (int i = 0; i < n; i++) memcpy(p, "\x0a\x01\x00\x00\x00", 5), p += 5;
    *p++ = 0; /* nil at the bottom */
    *len = (size_t)(p - s);
    return s;
}

static void edge_cases(void) {
    char err[256];
    size_t n;
    char *s;

    s = nest("[", "1", "]", EDDY_JSON_MAX_DEPTH, &n);
    TAP_OK(run_target(1, (const uint8_t *)s, n), "json: %d nested arrays",
           EDDY_JSON_MAX_DEPTH);
    TAP_OK(eddy_json_decode(L, s, n, err, sizeof err) == 0 &&
               lua_gettop(L) == 1,
           "json: %d nested arrays decode", EDDY_JSON_MAX_DEPTH);
    lua_settop(L, 0);
    free(s);
    s = nest("{\"a\":", "1", "}", EDDY_JSON_MAX_DEPTH + 1, &n);
    TAP_OK(run_target(1, (const uint8_t *)s, n), "json: %d nested objects",
           EDDY_JSON_MAX_DEPTH + 1);
    TAP_OK(eddy_json_decode(L, s, n, err, sizeof err) == -1 &&
               lua_gettop(L) == 0 && strstr(err, "nesting deeper than 128"),
           "json: %d nested objects are refused (%s)", EDDY_JSON_MAX_DEPTH + 1,
           err);
    free(s);

    s = nested_record(EDDY_CODEC_MAX_DEPTH, &n);
    TAP_OK(run_target(2, (const uint8_t *)s, n),
           "state_codec: a record of %d nested tables", EDDY_CODEC_MAX_DEPTH);
    TAP_OK(eddy_codec_decode(L, s, n, err, sizeof err) == 0,
           "state_codec: %d nested tables decode", EDDY_CODEC_MAX_DEPTH);
    lua_settop(L, 0);
    free(s);
    s = nested_record(EDDY_CODEC_MAX_DEPTH + 1, &n);
    TAP_OK(run_target(2, (const uint8_t *)s, n),
           "state_codec: a record of %d nested tables",
           EDDY_CODEC_MAX_DEPTH + 1);
    TAP_OK(eddy_codec_decode(L, s, n, err, sizeof err) == -1 &&
               lua_gettop(L) == 0 && strstr(err, "nesting deeper than 64"),
           "state_codec: %d nested tables are refused (%s)",
           EDDY_CODEC_MAX_DEPTH + 1, err);
    free(s);

    for (int d = EDDY_CODEC_MAX_DEPTH; d <= EDDY_CODEC_MAX_DEPTH + 1; d++) {
        s = nested_program(d, &n);
        TAP_OK(run_target(2, (const uint8_t *)s, n),
               "state_codec: a generated value of %d nested tables", d);
        free(s);
    }

#define EDGE(s)                                                                \
    { s, sizeof s - 1 }
    static const struct {
        const char *s;
        size_t n;
    } lines_edges[] = {
        EDGE("\x01\x01\n\n\r\n\r\r\n"), /* max_line 1: a lone "\r" fits */
        EDGE("\3\0abc\nabcd\n"),        /* max_line, then one more; 64K chunk */
        EDGE("\x02\x10\r\r\r\r\r"),     /* no newline at all, over-long */
    };
    for (size_t i = 0; i < sizeof lines_edges / sizeof *lines_edges; i++)
        TAP_OK(
            run_target(0, (const uint8_t *)lines_edges[i].s, lines_edges[i].n),
            "lines: edge case %zu", i + 1);
}

int main(void) {
    char dir[PATH_MAX];
    L = luaL_newstate();
    TAP_OK(L != NULL, "a Lua state");
    if (!find_corpus(dir, sizeof dir)) {
        TAP_OK(0, "found fuzz/corpus (run from the repo root)");
        return tap_done();
    }
    TAP_OK(1, "found the fuzz corpus at %s", dir);
    for (int t = 0; t < NTARGETS; t++) {
        int files = replay_dir(dir, t);
        TAP_OK(files >= 1, "fuzz/corpus/%s has seeds (%d)", targets[t], files);
    }
    edge_cases();
    lua_close(L);
    return tap_done();
}

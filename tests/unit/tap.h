/* tap.h - a tiny TAP producer for the C unit tests.
 * Each test binary prints "ok N - name" / "not ok N - name" lines and a
 * plan at the end; scripts/run-tests counts them across all suites. */
#ifndef EDDY_TAP_H
#define EDDY_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define TAP_OK(cond, ...)                                                  \
    do {                                                                   \
        int tap_c_ = (cond) ? 1 : 0;                                       \
        tap_n++;                                                           \
        if (!tap_c_) tap_failed++;                                         \
        printf("%sok %d - ", tap_c_ ? "" : "not ", tap_n);                 \
        printf(__VA_ARGS__);                                               \
        printf("\n");                                                      \
        if (!tap_c_)                                                       \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    } while (0)

#define TAP_STREQ(got, want, ...)                                          \
    do {                                                                   \
        const char *tap_g_ = (got), *tap_w_ = (want);                      \
        int tap_e_ = tap_g_ && tap_w_ && strcmp(tap_g_, tap_w_) == 0;      \
        TAP_OK(tap_e_, __VA_ARGS__);                                       \
        if (!tap_e_)                                                       \
            printf("#   got:  %s\n#   want: %s\n", tap_g_ ? tap_g_ : "(null)", \
                   tap_w_ ? tap_w_ : "(null)");                            \
    } while (0)

static inline int tap_done(void) {
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif

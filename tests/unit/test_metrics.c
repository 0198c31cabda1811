/* Unit tests for the Prometheus writer (metrics.c), the /metrics and
 * /health renderers (expose.c), snapshots (jobstats.c) and the status line
 * text (status.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expose.h"
#include "jobstats.h"
#include "metrics.h"
#include "status.h"
#include "tap.h"

static eddy_buf b;

static const char *text(void) {
    eddy_buf_addc(&b, '\0');
    b.len--;
    return b.data;
}

static const char *num(double v) {
    eddy_buf_reset(&b);
    eddy_metrics_number(&b, v);
    return text();
}

static void test_numbers(void) {
    TAP_STREQ(num(0), "0", "zero");
    TAP_STREQ(num(42), "42", "an integer without a point");
    TAP_STREQ(num(-3), "-3", "negative");
    TAP_STREQ(num(0.25), "0.25", "a fraction");
    TAP_STREQ(num(0.1), "0.1", "shortest form that reads back");
    TAP_STREQ(num(1795609519.884), "1795609519.884", "a timestamp in seconds");
    TAP_STREQ(num(NAN), "NaN", "NaN");
    TAP_STREQ(num(INFINITY), "+Inf", "+Inf");
    TAP_STREQ(num(-INFINITY), "-Inf", "-Inf");
    TAP_STREQ(num(1e300), "1e+300", "huge values keep an exponent");
}

static void test_lines(void) {
    eddy_buf_reset(&b);
    const char *l[] = {"operator", "a\"b\\c\nd", "policy", "skip", NULL};
    eddy_metrics_count(&b, "eddy_x_total", l, 18446744073709551615ULL);
    TAP_STREQ(text(),
              "eddy_x_total{operator=\"a\\\"b\\\\c\\nd\",policy=\"skip\"}"
              " 18446744073709551615\n",
              "label values escaped; counters exact to 2^64-1");
    eddy_buf_reset(&b);
    eddy_metrics_sample(&b, "eddy_y", NULL, 1.5);
    TAP_STREQ(text(), "eddy_y 1.5\n", "no labels: no braces");
    eddy_buf_reset(&b);
    eddy_metrics_family(&b, "eddy_y", "gauge", "line\none \\ \"q\"");
    TAP_STREQ(text(),
              "# HELP eddy_y line\\none \\\\ \"q\"\n# TYPE eddy_y gauge\n",
              "HELP escapes backslash and newline only");
}

/* A snapshot with one source, one operator named to break things, a sink. */
static void make_stats(eddy_jobstats *s) {
    eddy_jobstats_init(s);
    s->nodes = calloc(3, sizeof *s->nodes);
    s->nnodes = s->cap = 3;
    eddy_nodestats *n = s->nodes;
    n[0] = (eddy_nodestats){.kind = EDDY_NODE_SOURCE,
                            .name = strdup("in"),
                            .in = 12,
                            .out = 10,
                            .bad = 2,
                            .has_wm = 1,
                            .wm = 99000};
    n[1] = (eddy_nodestats){.kind = EDDY_NODE_OPERATOR,
                            .name = strdup("co\"unt\n"),
                            .in = 10,
                            .out = 7,
                            .errors = 3,
                            .skipped = 1,
                            .dead_letters = 1,
                            .keys = 5,
                            .timers = 2,
                            .reloads = 1};
    n[2] = (eddy_nodestats){
        .kind = EDDY_NODE_SINK, .name = strdup("out"), .in = 7, .out = 7};
    s->ckpt.completed = 4;
    s->ckpt.failed = 1;
    s->ckpt.last_failed = 1;
    s->ckpt.last_time_ms = 97000;
    s->ckpt.last_duration_ms = 12;
    s->last_ckpt_id = 4;
    s->restarts[EDDY_CAUSE_OPERATOR] = 2;
    s->running = 1;
    s->now_ms = 100000;
    s->started_ms = 90000;
}

static int has(const char *hay, const char *needle) {
    return strstr(hay, needle) != NULL;
}

static void test_expose(void) {
    eddy_jobstats s;
    make_stats(&s);
    eddy_buf_reset(&b);
    TAP_OK(eddy_expose_metrics(&s, "j", 3, &b) == 0, "metrics render");
    const char *t = text();
    TAP_OK(has(t, "\neddy_events_in_total{source=\"in\"} 12\n"), "source in");
    TAP_OK(has(t, "\neddy_events_out_total{operator=\"co\\\"unt\\n\"} 7\n"),
           "operator out, its odd name escaped");
    TAP_OK(has(t, "policy=\"fail\"} 1\n") && has(t, "policy=\"skip\"} 1\n") &&
               has(t, "policy=\"dead_letter\"} 1\n"),
           "errors split by policy (fail = errors - skipped - dead letters)");
    TAP_OK(has(t, "\neddy_restarts_total{cause=\"operator\"} 2\n"),
           "restarts by cause");
    TAP_OK(has(t, "\neddy_source_watermark_lag_seconds{source=\"in\"} 1\n"),
           "watermark lag in seconds");
    TAP_OK(has(t, "\neddy_checkpoint_last_age_seconds 3\n") &&
               has(t, "\neddy_checkpoint_last_duration_seconds 0.012\n"),
           "checkpoint age and duration in seconds");
    TAP_OK(has(t, "\neddy_http_rejected_total 3\n"), "rejected requests");
    int lines = 0, bad = 0;
    for (const char *p = t; *p; p = strchr(p, '\n') + 1) {
        lines++;
        if (*p != '#' && strncmp(p, "eddy_", 5) != 0) bad++;
    }
    TAP_OK(lines > 50 && bad == 0,
           "every sample line starts with eddy_ "
           "(%d lines)",
           lines);
    eddy_buf_reset(&b);
    TAP_OK(eddy_expose_health(&s, "j", "boom \"x\"", &b) == 200,
           "health: 200 while running");
    t = text();
    TAP_OK(has(t, "{\"status\":\"degraded\",\"job\":\"j\""),
           "a failed last checkpoint: degraded");
    TAP_OK(has(t, "\"last_id\":4,\"last_age_seconds\":3.000"),
           "last checkpoint");
    TAP_OK(has(t, "\"restarts\":2") &&
               has(t, "\"last_failure\":\"boom \\\"x\\\"\""),
           "restarts and the last failure, escaped");
    TAP_OK(has(t, "\"co\\\"unt\\n\":{\"in\":10,\"out\":7,\"errors\":3"),
           "per-operator counters under an escaped name");
    s.running = 0;
    eddy_buf_reset(&b);
    TAP_OK(eddy_expose_health(&s, "j", NULL, &b) == 503 &&
               has(text(), "\"status\":\"restarting\""),
           "waiting to restart: 503, restarting");
    eddy_jobstats_free(&s);
}

static void test_merge(void) {
    eddy_jobstats a, live, sum;
    make_stats(&a);
    make_stats(&live);
    live.ckpt.last_failed = 0;
    live.ckpt.completed = 1;
    live.ckpt.failed = 0;
    eddy_jobstats_init(&sum);
    eddy_jobstats_merge(&sum, &a);
    eddy_jobstats_merge(&sum, &live);
    TAP_OK(sum.nnodes == 3 && sum.nodes[1].in == 20 && sum.nodes[0].bad == 4,
           "counters of a graph before a restart add to the live one's");
    TAP_OK(sum.ckpt.completed == 5 && sum.ckpt.failed == 1 &&
               !sum.ckpt.last_failed,
           "checkpoint counts add up; the later attempt's result wins");
    TAP_OK(sum.restarts[EDDY_CAUSE_OPERATOR] == 4, "restarts add up");
    TAP_OK(eddy_jobstats_total(&sum, EDDY_NODE_SOURCE, 1) == 20, "totals");
    eddy_jobstats_free(&a);
    eddy_jobstats_free(&live);
    eddy_jobstats_free(&sum);
}

static void test_status(void) {
    eddy_jobstats s;
    char line[256];
    make_stats(&s);
    eddy_status_format(&s, "wc", 12345, line, sizeof line);
    TAP_STREQ(line,
              "eddy wc | 12.3k ev/s | 10 events | lag 1.0s | ckpt 4, "
              "3.0s ago (last FAILED) | 2 restarts",
              "status line");
    s.ckpt.last_time_ms = 0;
    s.nodes[0].has_wm = 0;
    s.running = 0;
    eddy_status_format(&s, "wc", -1, line, sizeof line);
    TAP_STREQ(line,
              "eddy wc | - ev/s | 10 events | no ckpt yet (last FAILED)"
              " | 2 restarts | RESTARTING",
              "status line without a rate, lag or checkpoint");
    eddy_status_format(&s, "wc", 1, line, 12);
    TAP_STREQ(line, "eddy wc | 1", "cut to the buffer");
    eddy_jobstats_free(&s);
}

int main(void) {
    eddy_buf_init(&b);
    test_numbers();
    test_lines();
    test_expose();
    test_merge();
    test_status();
    eddy_buf_free(&b);
    return tap_done();
}

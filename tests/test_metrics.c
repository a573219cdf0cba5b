/* The metric registry and its Prometheus text (qf/metrics.h): every family
 * with HELP and TYPE, counters that add up, cumulative histogram buckets,
 * escaped label values, unknown names ignored, a full registry that drops
 * and says so. The HTTP side runs in test_worker_ops.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qf/metrics.h"

static char *render(void) {
  char *t = qf_metrics_render(qf_metrics_global());
  cr_assert_not_null(t);
  return t;
}

Test(metrics, every_family_has_help_and_type_before_any_value) {
  char *t = render();
  const char *want[] = {"# TYPE qf_deliveries_total counter\n",
                        "# TYPE qf_run_duration_seconds histogram\n",
                        "# TYPE qf_ready gauge\n",
                        "# HELP qf_decisions_total Decisions published"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_expect(strstr(t, want[i]) != NULL, "no %s", want[i]);
  cr_expect(strstr(t, "qf_build_info{version=\"") != NULL, "%s", t);
  free(t);
}

Test(metrics, counters_add_and_gauges_set) {
  qf_metrics_t *m = qf_metrics_global();
  qf_metrics_inc(m, "qf_deliveries_total", "outcome=\"acked\"", 1);
  qf_metrics_inc(m, "qf_deliveries_total", "outcome=\"acked\"", 2);
  qf_metrics_inc(m, "qf_deliveries_total", "outcome=\"requeued\"", 1);
  qf_metrics_set(m, "qf_ready", NULL, 1);
  qf_metrics_set(m, "qf_ready", NULL, 0);
  qf_metrics_inc(m, "qf_no_such_metric", NULL, 1); /* ignored */
  char *t = render();
  cr_expect(strstr(t, "qf_deliveries_total{outcome=\"acked\"} 3\n") != NULL,
            "%s", t);
  cr_expect(strstr(t, "qf_deliveries_total{outcome=\"requeued\"} 1\n") != NULL);
  cr_expect(strstr(t, "qf_ready 0\n") != NULL, "%s", t);
  cr_expect(strstr(t, "qf_no_such_metric") == NULL);
  free(t);
}

Test(metrics, histogram_buckets_are_cumulative) {
  qf_metrics_t *m = qf_metrics_global();
  qf_metrics_observe(m, "qf_db_commit_seconds", NULL, 0.003);
  qf_metrics_observe(m, "qf_db_commit_seconds", NULL, 0.2);
  qf_metrics_observe(m, "qf_db_commit_seconds", NULL, 5000);
  char *t = render();
  const char *want[] = {"qf_db_commit_seconds_bucket{le=\"0.005\"} 1\n",
                        "qf_db_commit_seconds_bucket{le=\"0.25\"} 2\n",
                        "qf_db_commit_seconds_bucket{le=\"3600\"} 2\n",
                        "qf_db_commit_seconds_bucket{le=\"+Inf\"} 3\n",
                        "qf_db_commit_seconds_count 3\n",
                        "qf_db_commit_seconds_sum 5000.203"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_expect(strstr(t, want[i]) != NULL, "no %s in\n%s", want[i], t);
  free(t);
}

Test(metrics, label_values_are_escaped) {
  char l[64];
  qf_metrics_label(l, sizeof l, "tool", "a\"b\\c\nd");
  cr_expect_str_eq(l, "tool=\"a\\\"b\\\\c\\nd\"");
  qf_metrics_observe(qf_metrics_global(), "qf_tool_duration_seconds", l, 1);
  char *t = render();
  cr_expect(strstr(t,
                   "qf_tool_duration_seconds_count{tool=\"a\\\"b\\\\c\\nd\"}"
                   " 1\n") != NULL,
            "%s", t);
  free(t);
}

Test(metrics, a_full_registry_drops_and_counts) {
  qf_metrics_t *m = qf_metrics_global();
  for (int i = 0; i < QF_METRICS_MAX_SERIES + 10; i++) {
    char l[64];
    snprintf(l, sizeof l, "exchange=\"x%d\"", i);
    qf_metrics_inc(m, "qf_unrouted_publishes_total", l, 1);
  }
  char *t = render();
  const char *d = strstr(t, "\nqf_metrics_dropped_total ");
  cr_assert_not_null(d, "%s", t);
  cr_expect_gt(atof(d + strlen("\nqf_metrics_dropped_total ")), 0);
  free(t);
}

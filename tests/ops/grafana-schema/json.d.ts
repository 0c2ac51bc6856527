// What the generated dashboards are checked against (tests/ops/test_grafana_schema.py):
// @grafana/schema's Dashboard of the pinned Grafana, as JSON (enums become the strings and
// numbers they serialize to), plus the Prometheus datasource plugin's query fields, which
// @grafana/schema leaves to plugins (DataQuery has only refId, hide, queryType, ...).
import type { AnnotationQuery, Dashboard, DataQuery } from "@grafana/schema";

/** A schema type as JSON: a string enum becomes the union of its values. */
export type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Json<U>[]
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;

/** The Prometheus plugin's query model: what an annotation's target carries. */
export interface PrometheusQuery extends DataQuery {
  expr: string;
  interval?: string;
}

/** The Prometheus plugin's annotation options, read beside the target. */
export interface PrometheusAnnotationOptions {
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
}

export type CheckedDashboard = Json<Omit<Dashboard, "annotations">> & {
  annotations?: {
    list?: Array<Json<AnnotationQuery<PrometheusQuery>> & PrometheusAnnotationOptions>;
  };
};

import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import type { Principal } from "../auth/principal.js";
import { ForbiddenError } from "../errors.js";

/** With `metricsAuth: token`: any user's token may scrape; a workload (job) token may not. */
export function requireMetricsReader(principal: Principal): void {
  if (principal.scope) throw new ForbiddenError("a workload token cannot read server metrics");
}

/**
 * One Prometheus registry per platform instance (tests run several in one process, so never the global one).
 * Domains register their own metrics on `registry`.
 */
export interface HttpMetrics {
  registry: Registry;
  requests: Counter<"method" | "route" | "status">;
  duration: Histogram<"method" | "route" | "status">;
}

export function createMetrics(): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "mlops_" });
  const requests = new Counter({
    name: "mlops_http_requests_total",
    help: "HTTP requests by method, route and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "mlops_http_request_duration_seconds",
    help: "HTTP request latency by method, route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, requests, duration };
}

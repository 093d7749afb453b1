import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { readYamlDocuments } from "./support/manifests.js";
import { startTestServer, type TestServer } from "./support/server.js";

// infrastructure/monitoring/README.md: the alert rules are unit-tested with promtool, and every metric name in
// the rules and dashboards must be one the control plane registers on /metrics, or one of the external
// exporters' listed below.
const run = promisify(execFile);
const MONITORING = path.resolve(import.meta.dirname, "..", "infrastructure", "monitoring");
const ALERTS = path.join(MONITORING, "alerts");
const GRAFANA = path.join(MONITORING, "grafana");
const PROMTOOL = "/usr/bin/promtool";
const havePromtool = existsSync(PROMTOOL);
if (!havePromtool && process.env.CI === "true")
  throw new Error(`${PROMTOOL} missing (Debian package prometheus)`);

/** Metrics of other exporters, by prefix: they never appear on the control plane's /metrics. */
const EXTERNAL_PREFIXES: Record<string, string> = {
  kueue_: "Kueue controller-manager (admission wait, pending workloads per ClusterQueue)",
  DCGM_: "NVIDIA dcgm-exporter (GPU utilisation per device, with pod/namespace labels)",
};

interface Dashboard {
  uid: string;
  panels: Array<{ id: number; title: string; targets: Array<{ expr: string; datasource: { uid: string } }> }>;
}
const dashboards = readdirSync(GRAFANA)
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(path.join(GRAFANA, f), "utf8")) as Dashboard);
const dashboardExprs = dashboards.flatMap((d) => d.panels.flatMap((p) => p.targets.map((t) => t.expr)));
const ruleExprs = readYamlDocuments(path.join(ALERTS, "mlops-alerts.yaml")).flatMap((doc) =>
  (doc as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups.flatMap((g) =>
    g.rules.map((r) => r.expr),
  ),
);

/** Names of series selected in a PromQL expression: identifiers followed by `{`, `[` or standing alone. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, "{}");
  const found = withoutStrings.match(/\b(mlops_[a-z0-9_]+|kueue_[a-z0-9_]+|DCGM_[A-Z0-9_]+)\b/g) ?? [];
  return [...new Set(found)];
}

const DATASOURCE_VARIABLE = ["$", "{datasource}"].join("");
const promtoolIt = havePromtool ? it : it.skip;

describe("monitoring: alert rules and dashboards", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite");
  });
  afterAll(async () => {
    await server?.stop();
  });

  promtoolIt("passes promtool check rules and the rule unit tests", async () => {
    const check = await run(PROMTOOL, ["check", "rules", path.join(ALERTS, "mlops-alerts.yaml")]);
    expect(check.stdout).toMatch(/SUCCESS: 5 rules found/);
    const tests = await run(PROMTOOL, ["test", "rules", "mlops-alerts.test.yaml"], { cwd: ALERTS });
    expect(tests.stdout).toMatch(/SUCCESS/);
  });

  promtoolIt("every dashboard query is valid PromQL (checked as recording rules)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-dash-"));
    try {
      const rules = dashboardExprs.map((expr, i) => ({
        record: `dashboard:query_${i}`,
        expr: expr.replaceAll("$deployment", ".*").replaceAll("$version", ".*"),
      }));
      const file = path.join(dir, "dashboards.yaml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboards", rules }] }));
      const check = await run(PROMTOOL, ["check", "rules", file]);
      expect(check.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  promtoolIt("promtool rejects a broken rule (the check is live)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-dash-"));
    try {
      const file = path.join(dir, "broken.yaml");
      writeFileSync(
        file,
        stringify({ groups: [{ name: "x", rules: [{ record: "a:b", expr: "sum(rate(x[5m])" }] }] }),
      );
      await expect(run(PROMTOOL, ["check", "rules", file])).rejects.toThrow(/unclosed|parse error/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("dashboards have unique ids, a query per panel and the datasource variable", () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(["mlops-jobs", "mlops-serving", "mlops-tracking"]);
    for (const d of dashboards) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.targets.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.datasource.uid).toBe(DATASOURCE_VARIABLE);
      }
    }
  });

  it("every metric name in the rules and dashboards is registered on /metrics or comes from a listed exporter", async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const registered = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) registered.set(m[1] ?? "", m[2] ?? "");
    const known = (name: string) => {
      if (registered.has(name)) return true;
      const base = name.replace(/_(bucket|sum|count)$/, "");
      return base !== name && registered.get(base) === "histogram";
    };
    const names = new Set([...dashboardExprs, ...ruleExprs].flatMap(metricNames));
    expect(names.size).toBeGreaterThan(15);
    const unknown = [...names].filter(
      (n) => !known(n) && !Object.keys(EXTERNAL_PREFIXES).some((prefix) => n.startsWith(prefix)),
    );
    expect(unknown).toEqual([]);
    // The name scan itself: a selector with labels and a histogram suffix are both found.
    expect(metricNames('rate(mlops_x_bucket{a="mlops_not_a_metric"}[5m]) / mlops_y')).toEqual([
      "mlops_x_bucket",
      "mlops_y",
    ]);
  });
});

import { useState } from "react";
import { download, get, qs } from "../api";
import { LineChart } from "../charts/LineChart";
import { Badge, Empty, ErrorBox, formatTime, KeyValues, Panel } from "../components";
import { useLoad } from "../hooks";
import { Link, useLocation } from "../router";
import type { ArtifactEntry, MetricHistory, Run } from "./types";

/** Server-side downsampling keeps a chart at this many points whatever the series length. */
const MAX_POINTS = 1000;

export default function RunDetailPage({ runId }: { runId: string }) {
  const { search } = useLocation();
  const compareIds = (search.get("compare") ?? "").split(",").filter((id) => id && id !== runId);
  const runs = useLoad(
    (signal) =>
      Promise.all(
        [runId, ...compareIds].map((id) => get<Run>(`/api/v1/runs/${encodeURIComponent(id)}`, signal)),
      ),
    [runId, compareIds.join(",")],
  );
  const run = runs.data?.[0];
  return (
    <div className="page">
      <h1>
        Run {run ? run.name : runId}{" "}
        {compareIds.length > 0 && <span className="muted">compared with {compareIds.length} more</span>}
      </h1>
      {runs.error && <ErrorBox error={runs.error} onRetry={runs.reload} />}
      {run && (
        <div className="grid-3">
          <section className="panel" aria-labelledby="overview-h">
            <h2 id="overview-h">Overview</h2>
            <KeyValues
              label="Overview"
              values={{
                status: run.status,
                started: formatTime(run.startTime),
                ended: formatTime(run.endTime),
                user: run.user,
                id: run.id,
              }}
            />
            <h3>Lineage</h3>
            <Lineage run={run} />
          </section>
          <section className="panel" aria-labelledby="params-h">
            <h2 id="params-h">Parameters</h2>
            <KeyValues label="Parameters" values={run.params} />
          </section>
          <section className="panel" aria-labelledby="tags-h">
            <h2 id="tags-h">Tags</h2>
            <KeyValues
              label="Tags"
              values={Object.fromEntries(Object.entries(run.tags).filter(([k]) => !k.startsWith("mlflow.")))}
            />
          </section>
        </div>
      )}
      {runs.data && <Charts runs={runs.data} />}
      {run && <Artifacts runId={run.id} />}
    </div>
  );
}

function Lineage({ run }: { run: Run }) {
  const { datasetSnapshot, baseModelVersion, codeRef, jobId } = run.lineage;
  return (
    <dl className="lineage">
      <dt>Dataset snapshot</dt>
      <dd>{datasetSnapshot ? <code title={datasetSnapshot}>{datasetSnapshot.slice(0, 16)}</code> : "—"}</dd>
      <dt>Base model</dt>
      <dd>{baseModelVersion ?? "—"}</dd>
      <dt>Code</dt>
      <dd>{codeRef ? <code title={codeRef}>{codeRef.slice(0, 16)}</code> : "—"}</dd>
      <dt>Job</dt>
      <dd>{jobId ? <Link to={`/jobs/${encodeURIComponent(jobId)}`}>{jobId.slice(0, 12)}</Link> : "—"}</dd>
    </dl>
  );
}

function Charts({ runs }: { runs: Run[] }) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const [axis, setAxis] = useState<"step" | "time">("step");
  const [logY, setLogY] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  return (
    <section className="panel" aria-labelledby="metrics-h">
      <header className="panel-head">
        <h2 id="metrics-h">Metrics</h2>
        <div className="controls">
          <label>
            X axis{" "}
            <select value={axis} onChange={(e) => setAxis(e.target.value as "step" | "time")}>
              <option value="step">Step</option>
              <option value="time">Time (s)</option>
            </select>
          </label>
          <label>
            <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} /> Log scale
          </label>
          <label>
            Smoothing{" "}
            <input
              type="range"
              min={0}
              max={0.99}
              step={0.01}
              value={smoothing}
              onChange={(e) => setSmoothing(Number(e.target.value))}
            />{" "}
            <output>{smoothing.toFixed(2)}</output>
          </label>
        </div>
      </header>
      {keys.length === 0 ? (
        <Empty>No metrics logged.</Empty>
      ) : (
        <div className="charts">
          {keys.map((key) => (
            <MetricChart key={key} metric={key} runs={runs} axis={axis} logY={logY} smoothing={smoothing} />
          ))}
        </div>
      )}
    </section>
  );
}

function MetricChart(props: {
  metric: string;
  runs: Run[];
  axis: "step" | "time";
  logY: boolean;
  smoothing: number;
}) {
  const withMetric = props.runs.filter((r) => props.metric in r.metrics);
  const histories = useLoad(
    (signal) =>
      Promise.all(
        withMetric.map((r) =>
          get<MetricHistory>(
            `/api/v1/runs/${encodeURIComponent(r.id)}/metrics/${encodeURIComponent(props.metric)}${qs({ maxPoints: MAX_POINTS })}`,
            signal,
          ),
        ),
      ),
    [props.metric, withMetric.map((r) => r.id).join(",")],
  );
  if (histories.error) return <ErrorBox error={histories.error} onRetry={histories.reload} />;
  if (!histories.data) return <p className="muted">Loading {props.metric}…</p>;
  const series = histories.data.map((h, i) => {
    const origin = h.points[0]?.timestamp ?? 0;
    return {
      name: withMetric[i].name,
      points: h.points.map((p) => ({
        x: props.axis === "step" ? p.step : (p.timestamp - origin) / 1000,
        y: p.value,
      })),
    };
  });
  const sampled = histories.data.some((h) => h.mode !== "raw");
  return (
    <div className="chart-box" data-metric={props.metric}>
      <h3>
        {props.metric}
        {sampled && <span className="muted"> (downsampled on the server)</span>}
      </h3>
      <LineChart
        title={`${props.metric} by ${props.axis}`}
        series={series}
        xLabel={props.axis === "step" ? "step" : "seconds since first point"}
        logY={props.logY}
        smoothing={props.smoothing}
      />
    </div>
  );
}

function Artifacts({ runId }: { runId: string }) {
  const [dir, setDir] = useState("");
  const [error, setError] = useState<Error>();
  const listing = useLoad(
    (signal) =>
      get<{ entries: ArtifactEntry[] }>(
        `/api/v1/runs/${encodeURIComponent(runId)}/artifacts${qs({ path: dir })}`,
        signal,
      ),
    [runId, dir],
  );
  const parent = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "";
  const fetchFile = (entry: ArtifactEntry) => {
    const name = entry.path.slice(entry.path.lastIndexOf("/") + 1);
    const encoded = entry.path.split("/").map(encodeURIComponent).join("/");
    download(`/api/v1/runs/${encodeURIComponent(runId)}/artifacts/${encoded}`, name).catch(setError);
  };
  return (
    <Panel title="Artifacts" state={listing}>
      {({ entries }) => (
        <>
          <p>
            <code>/{dir}</code>{" "}
            {dir !== "" && (
              <button type="button" onClick={() => setDir(parent)}>
                Up
              </button>
            )}
          </p>
          {error && <ErrorBox error={error} />}
          {entries.length === 0 ? (
            <Empty>No artifacts here.</Empty>
          ) : (
            <table className="grid" aria-label="Artifacts">
              <thead>
                <tr>
                  <th scope="col">Path</th>
                  <th scope="col">Size</th>
                  <th scope="col">sha256</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry) => (
                  <tr key={entry.path}>
                    <td>
                      {entry.isDir ? (
                        <button type="button" className="link" onClick={() => setDir(entry.path)}>
                          {entry.path}/
                        </button>
                      ) : (
                        <button type="button" className="link" onClick={() => fetchFile(entry)}>
                          {entry.path} <Badge value="download" />
                        </button>
                      )}
                    </td>
                    <td className="num">{entry.size ?? ""}</td>
                    <td>
                      <code>{entry.sha256?.slice(0, 12) ?? ""}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Panel>
  );
}

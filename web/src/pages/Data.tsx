import { useState } from "react";
import { get, qs } from "../api";
import { Badge, Empty, ErrorBox, formatDuration, formatTime, Panel } from "../components";
import { useLoad } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import type {
  Dataset,
  DatasetStats,
  PipelineRun,
  PipelineStep,
  Policy,
  Snapshot,
  SnapshotDiff,
  TriggerStatus,
} from "./types";

export default function DataPage() {
  const { project } = useSession();
  const q = qs({ project: project.name });
  const datasets = useLoad((signal) => get<{ datasets: Dataset[] }>(`/api/v1/datasets${q}`, signal), [q]);
  const [chosen, setChosen] = useState<string>();
  const selected = chosen ?? datasets.data?.datasets[0]?.name;
  return (
    <div className="page">
      <h1>Data and retraining</h1>
      <div className="two-col">
        <Panel title="Datasets" state={datasets}>
          {({ datasets: list }) =>
            list.length === 0 ? (
              <Empty>No datasets in {project.name}.</Empty>
            ) : (
              <ul className="list">
                {list.map((d) => (
                  <li key={d.id}>
                    <button
                      type="button"
                      className="link"
                      aria-pressed={d.name === selected}
                      onClick={() => setChosen(d.name)}
                    >
                      {d.name}
                    </button>{" "}
                    <span className="muted">
                      {d.task} · {d.classes.length} classes
                    </span>
                  </li>
                ))}
              </ul>
            )
          }
        </Panel>
        {selected && <DatasetDetail name={selected} query={q} />}
      </div>
      <Policies query={q} />
      <Pipelines query={q} />
    </div>
  );
}

function DatasetDetail(props: { name: string; query: string }) {
  const base = `/api/v1/datasets/${encodeURIComponent(props.name)}`;
  const dataset = useLoad(
    (signal) => get<Dataset & { stats: DatasetStats }>(`${base}${props.query}`, signal),
    [base, props.query],
  );
  const snapshots = useLoad(
    (signal) => get<{ snapshots: Snapshot[] }>(`${base}/snapshots${props.query}`, signal),
    [base, props.query],
  );
  return (
    <div>
      <Panel title={`Dataset ${props.name}`} state={dataset}>
        {(d) => (
          <table className="grid" aria-label="Label counts and splits">
            <thead>
              <tr>
                <th scope="col">Items</th>
                <th scope="col">Labeled</th>
                <th scope="col">train</th>
                <th scope="col">val</th>
                <th scope="col">holdout</th>
                <th scope="col">Label revisions</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <td className="num">{d.stats.items}</td>
                <td className="num">{d.stats.labeled}</td>
                <td className="num">{d.stats.bySplit.train}</td>
                <td className="num">{d.stats.bySplit.val}</td>
                <td className="num">{d.stats.bySplit.holdout}</td>
                <td className="num">{d.stats.revisions}</td>
              </tr>
            </tbody>
          </table>
        )}
      </Panel>
      <Panel title="Snapshots" state={snapshots}>
        {({ snapshots: list }) =>
          list.length === 0 ? <Empty>No snapshots yet.</Empty> : <SnapshotList snapshots={list} />
        }
      </Panel>
    </div>
  );
}

function SnapshotList({ snapshots }: { snapshots: Snapshot[] }) {
  const [diff, setDiff] = useState<{ from: string; to: string; result?: SnapshotDiff; error?: Error }>();
  const compare = async (from: string, to: string) => {
    setDiff({ from, to });
    try {
      setDiff({ from, to, result: await get<SnapshotDiff>(`/api/v1/snapshots/${from}/diff/${to}`) });
    } catch (err) {
      setDiff({ from, to, error: err as Error });
    }
  };
  return (
    <>
      <table className="grid" aria-label="Snapshots">
        <thead>
          <tr>
            <th scope="col">Snapshot</th>
            <th scope="col">Items</th>
            <th scope="col">train / val / holdout</th>
            <th scope="col">Created</th>
            <th scope="col">Diff</th>
          </tr>
        </thead>
        <tbody>
          {snapshots.map((s, i) => (
            <tr key={s.id}>
              <td>
                <code title={s.id}>{s.id.slice(0, 12)}</code>
              </td>
              <td className="num">{s.itemCount}</td>
              <td className="num">
                {s.splitCounts.train} / {s.splitCounts.val} / {s.splitCounts.holdout}
              </td>
              <td>
                {formatTime(s.createdAt)} by {s.createdBy}
              </td>
              <td>
                {i + 1 < snapshots.length && (
                  <button type="button" onClick={() => compare(snapshots[i + 1].id, s.id)}>
                    vs previous
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {diff?.error && <ErrorBox error={diff.error} />}
      {diff?.result && (
        <p role="status">
          {diff.from.slice(0, 8)} → {diff.to.slice(0, 8)}: {diff.result.added.length} added,{" "}
          {diff.result.removed.length} removed, {diff.result.relabeled.length} relabeled,{" "}
          {diff.result.revised} revised, {diff.result.unchanged} unchanged
          {diff.result.classesAdded.length > 0 && <>; new classes {diff.result.classesAdded.join(", ")}</>}
        </p>
      )}
    </>
  );
}

function Policies({ query }: { query: string }) {
  const policies = useLoad(
    async (signal) => {
      const { policies: list } = await get<{ policies: Policy[] }>(
        `/api/v1/retrain-policies${query}`,
        signal,
      );
      return Promise.all(
        list.map((p) =>
          get<{ policy: Policy; trigger: TriggerStatus }>(
            `/api/v1/retrain-policies/${encodeURIComponent(p.modelName)}${query}`,
            signal,
          ),
        ),
      );
    },
    [query],
    10_000,
  );
  return (
    <Panel title="Retrain policies" state={policies}>
      {(list) =>
        list.length === 0 ? (
          <Empty>No retrain policies.</Empty>
        ) : (
          <table className="grid" aria-label="Retrain policies">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Dataset</th>
                <th scope="col">New labels / threshold</th>
                <th scope="col">Cooldown</th>
                <th scope="col">Trigger</th>
                <th scope="col">Last fired</th>
              </tr>
            </thead>
            <tbody>
              {list.map(({ policy, trigger }) => (
                <tr key={policy.modelName}>
                  <td>
                    <Link to={`/models/${encodeURIComponent(policy.modelName)}`}>{policy.modelName}</Link>
                  </td>
                  <td>{policy.datasetName}</td>
                  <td className="num">
                    <meter
                      min={0}
                      max={policy.minNewLabels}
                      value={Math.min(trigger.newLabels, policy.minNewLabels)}
                    />{" "}
                    {trigger.newLabels} / {policy.minNewLabels}
                  </td>
                  <td>
                    {formatDuration(policy.cooldownSeconds * 1000)}
                    {trigger.cooldownUntil && trigger.cooldownUntil > Date.now() && (
                      <> (until {formatTime(trigger.cooldownUntil)})</>
                    )}
                  </td>
                  <td>
                    {policy.paused ? (
                      <Badge value="paused" />
                    ) : (
                      <Badge value={trigger.fires ? "fires" : "waits"} />
                    )}{" "}
                    {trigger.reason}
                  </td>
                  <td>{formatTime(policy.lastFiredAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </Panel>
  );
}

function Pipelines({ query }: { query: string }) {
  const runs = useLoad(
    (signal) =>
      get<{ pipelines: PipelineRun[] }>(`/api/v1/pipelines${query}${query ? "&" : "?"}limit=20`, signal),
    [query],
    5000,
  );
  const [open, setOpen] = useState<string>();
  return (
    <Panel title="Pipeline runs" state={runs}>
      {({ pipelines }) =>
        pipelines.length === 0 ? (
          <Empty>No pipeline runs yet.</Empty>
        ) : (
          <ul className="list">
            {pipelines.map((p) => (
              <li key={p.id}>
                <button
                  type="button"
                  className="link"
                  aria-expanded={open === p.id}
                  onClick={() => setOpen(open === p.id ? undefined : p.id)}
                >
                  {p.modelName} · {formatTime(p.createdAt)}
                </button>{" "}
                <Badge value={p.state} /> <span className="muted">{p.stateReason}</span>
                {p.candidateVersion !== null && <span> → candidate v{p.candidateVersion}</span>}
                {open === p.id && <Steps id={p.id} />}
              </li>
            ))}
          </ul>
        )
      }
    </Panel>
  );
}

function Steps({ id }: { id: string }) {
  const steps = useLoad(
    (signal) => get<{ steps: PipelineStep[] }>(`/api/v1/pipelines/${encodeURIComponent(id)}`, signal),
    [id],
    5000,
  );
  if (steps.error) return <ErrorBox error={steps.error} />;
  if (!steps.data) return <p className="muted">Loading steps…</p>;
  const list = steps.data.steps;
  const start = Math.min(...list.map((s) => s.startedAt));
  const end = Math.max(...list.map((s) => s.finishedAt ?? Date.now()));
  const span = Math.max(1, end - start);
  return (
    <ol className="steps" aria-label="Pipeline steps">
      {list.map((s) => (
        <li key={s.id}>
          <span className="step-name">{s.step}</span>
          <span className="step-track" aria-hidden="true">
            <span
              className={`step-bar step-${s.status}`}
              style={{
                left: `${((s.startedAt - start) / span) * 100}%`,
                width: `${Math.max(1, (((s.finishedAt ?? Date.now()) - s.startedAt) / span) * 100)}%`,
              }}
            />
          </span>
          <span>
            <Badge value={s.status} /> {formatDuration(s.durationMs)}
            {s.reason && <span className="muted"> — {s.reason}</span>}
            {s.jobId && (
              <>
                {" "}
                · <Link to={`/jobs/${s.jobId}`}>job</Link>
              </>
            )}
          </span>
        </li>
      ))}
    </ol>
  );
}

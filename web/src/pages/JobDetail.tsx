import { useEffect, useRef, useState } from "react";
import { api, followSse, get, qs } from "../api";
import { ActionButton, Badge, ErrorBox, formatTime, KeyValues, Panel } from "../components";
import { useLoad } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import { resources } from "./Jobs";
import type { Job, JobEvent, Replica } from "./types";

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

export default function JobDetailPage({ jobId }: { jobId: string }) {
  const base = `/api/v1/jobs/${encodeURIComponent(jobId)}`;
  const [live, setLive] = useState(true);
  const job = useLoad(
    (signal) => get<{ job: Job; replicas: Replica[] }>(base, signal),
    [base],
    live ? 3000 : undefined,
  );
  const events = useLoad(
    (signal) => get<{ events: JobEvent[] }>(`${base}/events`, signal),
    [base],
    live ? 3000 : undefined,
  );
  const state = job.data?.job.state;
  const reloadEvents = events.reload;
  useEffect(() => {
    if (!state) return;
    // A new state has a new history entry; the last refresh comes with the final state.
    reloadEvents();
    if (FINAL.has(state)) setLive(false);
  }, [state, reloadEvents]);
  return (
    <div className="page">
      <h1>Job {job.data?.job.name ?? jobId}</h1>
      <div className="grid-2">
        <Panel
          title="Job"
          state={job}
          actions={job.data && <CancelButton job={job.data.job} onChanged={job.reload} />}
        >
          {({ job: j, replicas }) => (
            <>
              <KeyValues
                label="Job"
                values={{
                  state: j.state,
                  reason: j.stateReason,
                  attempt: j.attempt,
                  resources: resources(j),
                  command: j.command.join(" "),
                  submitted: formatTime(j.submittedAt),
                  started: formatTime(j.startedAt),
                  finished: formatTime(j.finishedAt),
                  "submitted by": j.createdBy ?? "—",
                }}
              />
              {j.runId && (
                <p>
                  Tracking run: <Link to={`/runs/${j.runId}`}>{j.runId.slice(0, 12)}</Link>
                </p>
              )}
              <h3>Replicas</h3>
              <table className="grid" aria-label="Replicas">
                <thead>
                  <tr>
                    <th scope="col">Attempt</th>
                    <th scope="col">Rank</th>
                    <th scope="col">Node</th>
                    <th scope="col">GPUs</th>
                    <th scope="col">State</th>
                    <th scope="col">Usage</th>
                    <th scope="col">Exit</th>
                  </tr>
                </thead>
                <tbody>
                  {replicas.map((r) => (
                    <tr key={r.replicaId}>
                      <td className="num">{r.attempt}</td>
                      <td className="num">{r.replicaIndex}</td>
                      <td>{r.nodeId}</td>
                      <td>
                        {r.gpuUuids.length === 0 ? "—" : r.gpuUuids.map((u) => u.slice(0, 8)).join(", ")}
                      </td>
                      <td>
                        <Badge value={r.state} />
                      </td>
                      <td>{usageText(r)}</td>
                      <td>{r.exitCode ?? r.message ?? "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </Panel>
        <Panel title="State history" state={events}>
          {({ events: list }) => (
            <ol className="timeline" aria-label="State history">
              {list.map((e) => (
                <li key={e.id}>
                  <strong>
                    {e.from ?? "—"} → {e.to}
                  </strong>{" "}
                  (attempt {e.attempt}) at {formatTime(e.at)} by {e.actor} — {e.reason}
                </li>
              ))}
            </ol>
          )}
        </Panel>
      </div>
      {job.data && <Logs base={base} replicas={Math.max(1, job.data.job.replicas)} />}
    </div>
  );
}

/** What the runtime measured last: CPU cores, memory, and per-GPU utilisation where it is reported. */
export function usageText(replica: Replica): string {
  const u = replica.usage;
  if (!u) return "—";
  const parts = [
    u.cpuCores !== undefined ? `${u.cpuCores.toFixed(2)} cores` : "",
    u.memoryBytes !== undefined ? `${Math.round(u.memoryBytes / 2 ** 20)} MiB` : "",
    ...(u.gpus ?? []).map(
      (g) => `GPU ${g.index}: ${Math.round(g.utilizationPercent)}%, ${g.memoryUsedMiB} MiB`,
    ),
  ];
  return parts.filter(Boolean).join(" · ") || "—";
}

function CancelButton(props: { job: Job; onChanged: () => void }) {
  const { can } = useSession();
  const [error, setError] = useState<Error>();
  if (FINAL.has(props.job.state)) return null;
  const cancel = async () => {
    if (!window.confirm(`Cancel job ${props.job.name}?`)) return;
    try {
      await api("POST", `/api/v1/jobs/${props.job.id}/cancel`);
      props.onChanged();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <ActionButton allowed={can("write")} danger onClick={cancel}>
        Cancel job
      </ActionButton>
      {error && <ErrorBox error={error} />}
    </>
  );
}

/** One rank's logs, followed live over SSE (fetch streaming, so the token stays in a header). */
function Logs(props: { base: string; replicas: number }) {
  // Several ranks: all of them interleaved by default, each line prefixed with its rank by the server.
  const [rank, setRank] = useState(props.replicas > 1 ? "all" : "0");
  const [text, setText] = useState("");
  const [status, setStatus] = useState("connecting");
  const [error, setError] = useState<Error>();
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const controller = new AbortController();
    setText("");
    setError(undefined);
    setStatus("connecting");
    followSse(
      `${props.base}/logs${qs({ rank, follow: 1 })}`,
      (event) => {
        const data = JSON.parse(event.data) as {
          text?: string;
          state?: string;
          stateReason?: string;
          message?: string;
        };
        if (event.event === "log" && data.text) setText((t) => t + data.text);
        else if (event.event === "state") setStatus(`live · ${data.state}`);
        else if (event.event === "end")
          setStatus(`ended · ${data.state}${data.stateReason ? ` (${data.stateReason})` : ""}`);
        else if (event.event === "error") setError(new Error(data.message ?? "log stream failed"));
      },
      controller.signal,
    )
      .then(() => setStatus((s) => (s.startsWith("ended") ? s : "stream closed")))
      .catch((err: Error) => {
        if (!controller.signal.aborted) setError(err);
      });
    return () => controller.abort();
  }, [props.base, rank]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll to the end each time new text arrives.
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text]);
  return (
    <section className="panel" aria-labelledby="logs-h">
      <header className="panel-head">
        <h2 id="logs-h">Logs</h2>
        <label>
          Rank{" "}
          <select value={rank} onChange={(e) => setRank(e.target.value)}>
            {props.replicas > 1 && <option value="all">all</option>}
            {Array.from({ length: props.replicas }, (_, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the index is the rank, a stable identity.
              <option key={i} value={String(i)}>
                {i}
              </option>
            ))}
          </select>
        </label>
        <span className="muted" role="status" data-testid="log-status">
          {status}
        </span>
      </header>
      {error && <ErrorBox error={error} />}
      <pre className="logs" ref={pre} data-testid="logs">
        {text || "(no output yet)"}
      </pre>
    </section>
  );
}

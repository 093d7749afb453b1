import { get, qs } from "../api";
import { Badge, Empty, formatTime, Panel } from "../components";
import { useLoad } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import type { Gpus, Job } from "./types";

const LIVE_MS = 3000;

export default function JobsPage() {
  const { project } = useSession();
  const queue = useLoad(
    (signal) =>
      get<{ jobs: Job[] }>(
        `/api/v1/jobs${qs({ project: project.name, state: "queued,scheduled", limit: 200 })}`,
        signal,
      ),
    [project.name],
    LIVE_MS,
  );
  const recent = useLoad(
    (signal) => get<{ jobs: Job[] }>(`/api/v1/jobs${qs({ project: project.name, limit: 50 })}`, signal),
    [project.name],
    LIVE_MS,
  );
  const gpus = useLoad((signal) => get<Gpus>("/api/v1/gpus", signal), [], LIVE_MS);
  return (
    <div className="page">
      <h1>Jobs and GPUs</h1>
      <Panel title="Queue" state={queue}>
        {({ jobs }) =>
          jobs.length === 0 ? (
            <Empty>Nothing is waiting.</Empty>
          ) : (
            <table className="grid" aria-label="Queue">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">State</th>
                  <th scope="col">Why it waits</th>
                  <th scope="col">Asks for</th>
                  <th scope="col">Priority</th>
                  <th scope="col">Submitted</th>
                </tr>
              </thead>
              <tbody>
                {jobs.map((j) => (
                  <tr key={j.id}>
                    <td>
                      <Link to={`/jobs/${j.id}`}>{j.name}</Link>
                    </td>
                    <td>
                      <Badge value={j.state} />
                    </td>
                    <td>{j.stateReason || "—"}</td>
                    <td>{resources(j)}</td>
                    <td className="num">{j.priority}</td>
                    <td>{formatTime(j.submittedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Panel>
      <Panel title="GPU map" state={gpus}>
        {(g) => (
          <>
            <p className="muted">
              Runtime {g.runtime.name} · sandbox {g.runtime.sandbox} · inventory {g.source}
            </p>
            {g.devices.length === 0 ? (
              <Empty>No GPUs on this platform.</Empty>
            ) : (
              <ul className="gpu-map" aria-label="GPU devices">
                {g.devices.map((d) => (
                  <li key={d.uuid} className={d.heldBy ? "held" : "free"}>
                    <strong>
                      {d.nodeId} #{d.index}
                    </strong>{" "}
                    {d.name ?? d.type}
                    {d.simulated && <span className="muted"> (simulated)</span>}
                    <div>
                      {d.heldBy === null ? (
                        "free"
                      ) : "otherProject" in d.heldBy ? (
                        "held by another project"
                      ) : (
                        <Link to={`/jobs/${d.heldBy.jobId}`}>
                          {d.heldBy.jobName} rank {d.heldBy.replicaIndex}
                        </Link>
                      )}
                    </div>
                  </li>
                ))}
              </ul>
            )}
            <table className="grid" aria-label="Nodes">
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">CPU held</th>
                  <th scope="col">Memory held</th>
                  <th scope="col">GPUs</th>
                </tr>
              </thead>
              <tbody>
                {g.nodes.map((n) => (
                  <tr key={n.id}>
                    <td>{n.id}</td>
                    <td className="num">
                      {n.cpuHeld} / {n.cpu}
                    </td>
                    <td className="num">
                      {n.memoryMiBHeld} / {n.memoryMiB} MiB
                    </td>
                    <td className="num">{n.gpus}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Panel>
      <Panel title="Recent jobs" state={recent}>
        {({ jobs }) =>
          jobs.length === 0 ? (
            <Empty>No jobs yet.</Empty>
          ) : (
            <table className="grid" aria-label="Recent jobs">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">State</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Attempt</th>
                  <th scope="col">Submitted</th>
                  <th scope="col">Finished</th>
                </tr>
              </thead>
              <tbody>
                {jobs.map((j) => (
                  <tr key={j.id}>
                    <td>
                      <Link to={`/jobs/${j.id}`}>{j.name}</Link>
                    </td>
                    <td>
                      <Badge value={j.state} />
                    </td>
                    <td>{j.stateReason || "—"}</td>
                    <td className="num">{j.attempt}</td>
                    <td>{formatTime(j.submittedAt)}</td>
                    <td>{formatTime(j.finishedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Panel>
    </div>
  );
}

export function resources(j: Job): string {
  const gpu =
    j.resources.gpus > 0
      ? `, ${j.resources.gpus} GPU${j.resources.gpuType ? ` ${j.resources.gpuType}` : ""}`
      : "";
  return `${j.replicas > 1 ? `${j.replicas} × ` : ""}${j.resources.cpu} CPU, ${j.resources.memoryMiB} MiB${gpu}`;
}

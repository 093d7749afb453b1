import { type FormEvent, useState } from "react";
import { ApiError, api, get, qs } from "../api";
import { ActionButton, Badge, Empty, ErrorBox, formatDuration, formatTime, Panel } from "../components";
import { useLoad } from "../hooks";
import { useSession } from "../session";

/**
 * Workspaces: GPU development environments reached over SSH. A server without the workspaces API answers
 * 404, shown as "not available" rather than as an error.
 */
interface Workspace {
  id: string;
  name: string;
  owner: string;
  state: string;
  stateReason: string;
  resources: { gpus: number; gpuType?: string; cpu: number; memoryMiB: number };
  idleTimeoutSeconds: number;
  startedAt: number | null;
  /** Present (possibly null) only for the owner and admins. */
  connection?: { host: string; port: number; user: string } | null;
  sessions?: number;
  lastActivityAt?: number | null;
}

interface Connection {
  alias: string;
  host: string;
  port: number;
  user: string;
  hostPublicKey: string;
}

const NOT_AVAILABLE = "not available" as const;

export default function WorkspacesPage() {
  const { project } = useSession();
  const q = qs({ project: project.name });
  const list = useLoad(
    async (signal) => {
      try {
        return await get<{ workspaces: Workspace[] }>(`/api/v1/workspaces${q}`, signal);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return NOT_AVAILABLE;
        throw err;
      }
    },
    [q],
    5000,
  );
  return (
    <div className="page">
      <h1>Workspaces</h1>
      <Panel title="Workspaces" state={list}>
        {(data) =>
          data === NOT_AVAILABLE ? (
            <p className="muted" data-testid="workspaces-unavailable">
              Workspaces are not available on this server.
            </p>
          ) : (
            <>
              <CreateWorkspace project={project.name} onCreated={list.reload} />
              {(data.workspaces ?? []).length === 0 ? (
                <Empty>No workspaces in {project.name}.</Empty>
              ) : (
                <table className="grid" aria-label="Workspaces">
                  <thead>
                    <tr>
                      <th scope="col">Workspace</th>
                      <th scope="col">Owner</th>
                      <th scope="col">State</th>
                      <th scope="col">Resources</th>
                      <th scope="col">SSH sessions</th>
                      <th scope="col">Idle timer</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.workspaces.map((w) => (
                      <WorkspaceRow key={w.id} workspace={w} query={q} onChanged={list.reload} />
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )
        }
      </Panel>
    </div>
  );
}

function idleTimer(w: Workspace): string {
  if (w.state !== "running") return "—";
  if (w.lastActivityAt === undefined)
    return `stops after ${formatDuration(w.idleTimeoutSeconds * 1000)} idle`;
  if (w.sessions && w.sessions > 0) return `in use (timeout ${formatDuration(w.idleTimeoutSeconds * 1000)})`;
  const since = w.lastActivityAt ?? w.startedAt ?? Date.now();
  const left = since + w.idleTimeoutSeconds * 1000 - Date.now();
  return left > 0
    ? `idle since ${formatTime(since)}, stops in ${formatDuration(left)}`
    : "stopping for idleness";
}

function WorkspaceRow(props: { workspace: Workspace; query: string; onChanged: () => void }) {
  const w = props.workspace;
  // The API shows connection details only to the owner and admins: they may also stop and start it.
  const mine = "connection" in w;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const [config, setConfig] = useState<string>();
  const base = `/api/v1/workspaces/${encodeURIComponent(w.id)}`;
  const act = async (action: "stop" | "start") => {
    setBusy(true);
    setError(undefined);
    try {
      await api("POST", `${base}/${action}${props.query}`);
      props.onChanged();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const showConfig = async () => {
    setError(undefined);
    try {
      const c = await get<Connection>(`${base}/connection${props.query}`);
      setConfig(sshConfig(c));
    } catch (err) {
      setError(err as Error);
    }
  };
  const r = w.resources;
  return (
    <tr>
      <td>{w.name}</td>
      <td>{w.owner}</td>
      <td>
        <Badge value={w.state} /> <span className="muted">{w.stateReason}</span>
      </td>
      <td>
        {r.gpus} GPU{r.gpuType ? ` ${r.gpuType}` : ""}, {r.cpu} CPU, {r.memoryMiB} MiB
      </td>
      <td className="num">{w.sessions ?? "—"}</td>
      <td>{idleTimer(w)}</td>
      <td>
        <div className="actions">
          {mine && w.state === "running" && (
            <button type="button" onClick={showConfig}>
              SSH config
            </button>
          )}
          {mine && ["running", "queued"].includes(w.state) && (
            <ActionButton allowed busy={busy} onClick={() => act("stop")}>
              Stop
            </ActionButton>
          )}
          {mine && ["stopped", "failed"].includes(w.state) && (
            <ActionButton allowed busy={busy} onClick={() => act("start")}>
              Start
            </ActionButton>
          )}
        </div>
        {error && <ErrorBox error={error} />}
        {config && (
          <>
            <pre className="ssh-config" data-testid={`ssh-config-${w.name}`}>
              {config}
            </pre>
            <button type="button" onClick={() => navigator.clipboard?.writeText(config)}>
              Copy
            </button>
          </>
        )}
      </td>
    </tr>
  );
}

/** The `Host` entry for ~/.ssh/config, pinning the workspace's host key (as `mlops workspace ssh-config`). */
export function sshConfig(c: Connection): string {
  const knownHosts = "~/.ssh/mlops_known_hosts";
  return [
    `Host ${c.alias}`,
    `  HostName ${c.host}`,
    `  Port ${c.port}`,
    `  User ${c.user}`,
    "  StrictHostKeyChecking yes",
    `  UserKnownHostsFile ${knownHosts}`,
    "",
    `# and in ${knownHosts}:`,
    `[${c.host}]:${c.port} ${c.hostPublicKey}`,
  ].join("\n");
}

function CreateWorkspace(props: { project: string; onCreated: () => void }) {
  const { can } = useSession();
  const [name, setName] = useState("");
  const [gpus, setGpus] = useState(1);
  const [gpuType, setGpuType] = useState("");
  const [idle, setIdle] = useState("2h");
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api("POST", "/api/v1/workspaces", {
        project: props.project,
        name: name.trim(),
        resources: { gpus, ...(gpuType.trim() ? { gpuType: gpuType.trim() } : {}) },
        ...(idle.trim() ? { idleTimeout: idle.trim() } : {}),
      });
      setName("");
      props.onCreated();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  if (!can("write")) return <p className="muted">Your role can see workspaces but not create them.</p>;
  return (
    <form className="inline-form" onSubmit={submit} aria-label="Create a workspace">
      <label>
        Name{" "}
        <input
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          pattern="[a-z][a-z0-9\-]{0,39}"
        />
      </label>
      <label>
        GPUs <input type="number" min={0} value={gpus} onChange={(e) => setGpus(Number(e.target.value))} />
      </label>
      <label>
        GPU type <input value={gpuType} onChange={(e) => setGpuType(e.target.value)} placeholder="any" />
      </label>
      <label>
        Idle timeout <input value={idle} onChange={(e) => setIdle(e.target.value)} size={6} />
      </label>
      <button type="submit" disabled={busy || name.trim() === ""}>
        Create
      </button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

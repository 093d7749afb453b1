import { useState } from "react";
import { api, get } from "../api";
import {
  ActionButton,
  Badge,
  Empty,
  ErrorBox,
  formatNumber,
  formatTime,
  Panel,
  percent,
} from "../components";
import { useLoad } from "../hooks";
import { useSession } from "../session";
import type { DeploymentEvent, DeploymentStatus } from "./types";

/** Live status refresh: the canary's share and per-version figures change while traffic flows. */
const LIVE_MS = 2000;

export default function DeploymentDetailPage({ name }: { name: string }) {
  const base = `/api/v1/deployments/${encodeURIComponent(name)}`;
  const status = useLoad((signal) => get<DeploymentStatus>(`${base}/status`, signal), [base], LIVE_MS);
  const history = useLoad(
    (signal) => get<{ history: DeploymentEvent[] }>(`${base}/history`, signal),
    [base],
    LIVE_MS * 2,
  );
  const changed = () => {
    status.reload();
    history.reload();
  };
  return (
    <div className="page">
      <h1>Deployment {name}</h1>
      <Panel
        title="Traffic"
        state={status}
        actions={<CanaryActions base={base} status={status.data} onChanged={changed} />}
      >
        {(s) => (
          <>
            <TrafficBar status={s} />
            <p className="muted">
              State <Badge value={s.deployment.state} /> · figures since {formatTime(s.since)}
              {s.nextAnalysisAt && <> · next analysis {formatTime(s.nextAnalysisAt)}</>}
            </p>
            <table className="grid" aria-label="Per-version figures">
              <thead>
                <tr>
                  <th scope="col">Role</th>
                  <th scope="col">Version</th>
                  <th scope="col">Share</th>
                  <th scope="col">Requests</th>
                  <th scope="col">Errors</th>
                  <th scope="col">p50</th>
                  <th scope="col">p95</th>
                  <th scope="col">Label agreement</th>
                </tr>
              </thead>
              <tbody>
                {s.versions.map((v) => (
                  <tr key={`${v.role}-${v.version}`} data-role={v.role}>
                    <td>
                      {v.role}
                      {v.loadError && <span className="warn"> load error: {v.loadError}</span>}
                    </td>
                    <td>v{v.version}</td>
                    <td className="num">{v.weight}%</td>
                    <td className="num" data-field="requests">
                      {v.stats.requests}
                    </td>
                    <td className="num">
                      {v.stats.errors} ({percent(v.stats.errorRate)})
                    </td>
                    <td className="num">
                      {v.stats.p50Ms === null ? "—" : `${formatNumber(v.stats.p50Ms, 3)} ms`}
                    </td>
                    <td className="num">
                      {v.stats.p95Ms === null ? "—" : `${formatNumber(v.stats.p95Ms, 3)} ms`}
                    </td>
                    <td className="num">
                      {v.agreement && v.agreement.total > 0
                        ? `${percent(v.agreement.rate)} of ${v.agreement.total}`
                        : "no labels yet"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Panel>
      <Panel title="Decisions" state={history}>
        {({ history: events }) =>
          events.length === 0 ? (
            <Empty>No changes yet.</Empty>
          ) : (
            <ol className="timeline" aria-label="Deployment decisions">
              {[...events].reverse().map((e) => (
                <li key={e.id}>
                  <strong>{e.action}</strong> {e.fromState ?? "—"} → {e.toState} · canary{" "}
                  {e.canaryVersion === null ? "none" : `v${e.canaryVersion} at ${e.canaryWeight}%`} · by{" "}
                  {e.actor} at {formatTime(e.at)}
                  {e.reason && <> — {e.reason}</>}
                  {e.details.analysis && (
                    <span className="muted">
                      {" "}
                      (verdict {e.details.analysis.verdict ?? "?"}, errors{" "}
                      {percent(e.details.analysis.errorRate)}
                      {e.details.analysis.agreement !== undefined && (
                        <>, agreement {percent(e.details.analysis.agreement)}</>
                      )}
                      )
                    </span>
                  )}
                </li>
              ))}
            </ol>
          )
        }
      </Panel>
    </div>
  );
}

function TrafficBar({ status }: { status: DeploymentStatus }) {
  const canary = status.deployment.canaryVersion === null ? 0 : status.deployment.canaryWeight;
  return (
    <div className="traffic">
      <p className="sr-only">Canary traffic share {canary}%</p>
      <div className="traffic-bar" aria-hidden="true" data-canary-share={canary}>
        <span className="primary" style={{ width: `${100 - canary}%` }}>
          primary v{status.deployment.primaryVersion} {100 - canary}%
        </span>
        {canary > 0 && (
          <span className="canary" style={{ width: `${canary}%` }}>
            canary v{status.deployment.canaryVersion} {canary}%
          </span>
        )}
      </div>
    </div>
  );
}

function CanaryActions(props: { base: string; status: DeploymentStatus | undefined; onChanged: () => void }) {
  const { can } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  if (!props.status || props.status.deployment.canaryVersion === null) return null;
  const run = async (action: "promote" | "rollback") => {
    const verb = action === "promote" ? "Promote the canary to primary" : "Roll the canary back";
    if (!window.confirm(`${verb} now?`)) return;
    setBusy(true);
    setError(undefined);
    try {
      await api("POST", `${props.base}/${action}`, { reason: `${action} from the web UI` });
      props.onChanged();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="actions">
      <ActionButton allowed={can("deploy")} busy={busy} onClick={() => run("promote")}>
        Promote canary
      </ActionButton>
      <ActionButton allowed={can("deploy")} busy={busy} danger onClick={() => run("rollback")}>
        Roll back
      </ActionButton>
      {error && <ErrorBox error={error} />}
    </div>
  );
}

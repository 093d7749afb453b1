import { type FormEvent, useState } from "react";
import { api, get, qs } from "../api";
import { ActionButton, Badge, Empty, ErrorBox, formatNumber, formatTime, Panel } from "../components";
import { useLoad } from "../hooks";
import { useSession } from "../session";
import { gateText } from "./Models";
import type { Model, Standing, Transition, Validation, Version } from "./types";

export default function ModelDetailPage({ name }: { name: string }) {
  const { project } = useSession();
  const base = `/api/v1/models/${encodeURIComponent(name)}`;
  const q = qs({ project: project.name });
  const model = useLoad((signal) => get<Model>(`${base}${q}`, signal), [base, q]);
  const versions = useLoad(
    (signal) => get<{ versions: Version[] }>(`${base}/versions${q}`, signal),
    [base, q],
  );
  const validations = useLoad(
    (signal) => get<{ validations: Validation[] }>(`${base}/validations${q}`, signal),
    [base, q],
  );
  const history = useLoad(
    (signal) => get<{ transitions: Transition[] }>(`${base}/history${q}`, signal),
    [base, q],
  );
  const changed = () => {
    versions.reload();
    history.reload();
    model.reload();
    validations.reload();
  };
  return (
    <div className="page">
      <h1>Model {name}</h1>
      {model.error && <ErrorBox error={model.error} onRetry={model.reload} />}
      {model.data && (
        <p>
          Gate:{" "}
          {model.data.gate ? (
            gateText(model.data.gate)
          ) : (
            <span className="warn">none: production refused</span>
          )}
        </p>
      )}
      <Panel title="Versions" state={versions}>
        {({ versions: list }) =>
          list.length === 0 ? (
            <Empty>No versions.</Empty>
          ) : (
            <table className="grid" aria-label="Versions">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Stage</th>
                  <th scope="col">Aliases</th>
                  <th scope="col">Source</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.map((v) => (
                  <tr key={v.version} data-version={v.version}>
                    <td>v{v.version}</td>
                    <td>
                      <Badge value={v.stage} />
                    </td>
                    <td>{v.aliases.join(", ") || "—"}</td>
                    <td>
                      <code>{v.source.slice(0, 40)}</code>
                    </td>
                    <td>
                      {formatTime(v.createdAt)} by {v.createdBy}
                    </td>
                    <td>
                      <VersionActions base={base} query={q} version={v} onChanged={changed} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Panel>
      <Panel title="Validation records" state={validations}>
        {({ validations: list }) =>
          list.length === 0 ? (
            <Empty>No validation records: production is refused until one passes the gate.</Empty>
          ) : (
            <table className="grid" aria-label="Validation records">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Evidence</th>
                  <th scope="col">Metrics</th>
                  <th scope="col">Snapshot</th>
                  <th scope="col">Gate</th>
                  <th scope="col">When</th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.id}>
                    <td>v{r.version}</td>
                    <td>
                      <Badge value={r.provenance === "platform" ? "measured" : "reported"} />
                      {r.evaluation && (
                        <span className="muted">
                          {" "}
                          {r.evaluation.itemCount} items of {r.evaluation.split}
                        </span>
                      )}
                    </td>
                    <td>
                      {Object.entries(r.metrics)
                        .map(([k, v]) => `${k} ${formatNumber(v)}`)
                        .join(", ")}
                    </td>
                    <td>
                      <code>{r.snapshot.slice(0, 12)}</code>
                    </td>
                    <td>
                      <Badge value={r.passed ? "passed" : "failed"} />{" "}
                      <span className="muted">{r.decision.reasons.join("; ")}</span>
                    </td>
                    <td>{formatTime(r.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Panel>
      <Panel title="Transition history" state={history}>
        {({ transitions }) =>
          transitions.length === 0 ? (
            <Empty>No stage changes yet.</Empty>
          ) : (
            <ol className="timeline" aria-label="Transition history">
              {[...transitions].reverse().map((t) => (
                <li key={t.id}>
                  <strong>
                    v{t.version}: {t.fromStage} → {t.toStage}
                  </strong>{" "}
                  by {t.actor} at {formatTime(t.at)} — {t.reason}
                  {t.evidence && (
                    <span className="muted">
                      {" "}
                      (evidence <code>{t.evidence.slice(0, 12)}</code>)
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

/** Promote: ask the gate first (standing), show its answer, then confirm with a reason. */
function VersionActions(props: { base: string; query: string; version: Version; onChanged: () => void }) {
  const { can } = useSession();
  const allowed = can("write");
  const [standing, setStanding] = useState<Standing>();
  const [reason, setReason] = useState("");
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const [stage, setStage] = useState("staging");
  const path = `${props.base}/versions/${props.version.version}`;
  const check = async () => {
    setError(undefined);
    setBusy(true);
    try {
      setStanding(await get<Standing>(`${path}/standing${props.query}`));
      // The gate's answer rests on the newest records: show them beside it.
      props.onChanged();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const act = async (url: string, body: unknown) => {
    setBusy(true);
    setError(undefined);
    try {
      await api("POST", `${url}${props.query}`, body);
      setStanding(undefined);
      setReason("");
      props.onChanged();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const promote = (event: FormEvent) => {
    event.preventDefault();
    void act(`${path}/promote`, { reason: reason.trim() });
  };
  if (props.version.stage === "production") return <span className="muted">in production</span>;
  return (
    <div className="actions">
      {standing === undefined ? (
        <ActionButton allowed={allowed} busy={busy} onClick={check}>
          Promote v{props.version.version}…
        </ActionButton>
      ) : (
        <form onSubmit={promote} className="confirm" aria-label={`Promote v${props.version.version}`}>
          <p role="status" className={standing.passed ? "ok" : "warn"}>
            Gate: {standing.passed ? "passes" : "refuses"} — {standing.message}
          </p>
          <label>
            Reason{" "}
            <input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={2000} />
          </label>
          <button type="submit" disabled={busy || reason.trim() === ""}>
            Confirm promotion
          </button>
          <button type="button" onClick={() => setStanding(undefined)}>
            Cancel
          </button>
        </form>
      )}
      {allowed && (
        <span className="inline">
          <label>
            <span className="sr-only">Stage for v{props.version.version}</span>
            <select value={stage} onChange={(e) => setStage(e.target.value)}>
              <option value="staging">staging</option>
              <option value="archived">archived</option>
              <option value="experiment">experiment</option>
            </select>
          </label>
          <button
            type="button"
            disabled={busy}
            onClick={() => act(`${path}/transition`, { stage, reason: `moved to ${stage} from the web UI` })}
          >
            Move
          </button>
        </span>
      )}
      {error && <ErrorBox error={error} />}
    </div>
  );
}

import type { ReactNode } from "react";
import type { Loaded } from "./hooks";

/** Shared building blocks: panels with loading and error states, tables, small formatters. */

export function Panel<T>(props: {
  title: string;
  state: Loaded<T>;
  children: (data: T) => ReactNode;
  actions?: ReactNode;
  id?: string;
}) {
  const { data, error, loading } = props.state;
  const headingId = `${props.id ?? props.title.replace(/\W+/g, "-").toLowerCase()}-h`;
  return (
    <section className="panel" aria-labelledby={headingId} aria-busy={loading}>
      <header className="panel-head">
        <h2 id={headingId}>{props.title}</h2>
        {props.actions}
      </header>
      {error ? (
        <ErrorBox error={error} onRetry={props.state.reload} />
      ) : data === undefined ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : (
        props.children(data)
      )}
    </section>
  );
}

export function ErrorBox(props: { error: Error; onRetry?: () => void }) {
  return (
    <div className="error" role="alert">
      <span>{props.error.message}</span>
      {props.onRetry && (
        <button type="button" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty(props: { children: ReactNode }) {
  return <p className="muted">{props.children}</p>;
}

export function Badge(props: { value: string }) {
  return (
    <span className={`badge badge-${props.value.toLowerCase().replace(/[^a-z]+/g, "-")}`}>{props.value}</span>
  );
}

export function KeyValues(props: {
  values: Record<string, string | number | null | undefined>;
  label: string;
}) {
  const entries = Object.entries(props.values);
  if (entries.length === 0) return <Empty>None.</Empty>;
  return (
    <table className="kv" aria-label={props.label}>
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <th scope="row">{key}</th>
            <td>{value ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function formatTime(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace("T", " ").slice(0, 19);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = s / 60;
  return m < 120 ? `${m.toFixed(1)} min` : `${(m / 60).toFixed(1)} h`;
}

export function formatNumber(value: number | string | null | undefined, digits = 4): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  return Number.isInteger(value) ? String(value) : value.toPrecision(digits);
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

/** An action button that is shown disabled, with the reason, when the role does not allow it. */
export function ActionButton(props: {
  allowed: boolean;
  onClick: () => void;
  children: ReactNode;
  busy?: boolean;
  danger?: boolean;
}) {
  return (
    <button
      type="button"
      className={props.danger ? "danger" : undefined}
      onClick={props.onClick}
      disabled={!props.allowed || props.busy}
      title={props.allowed ? undefined : "Your role in this project does not allow this"}
    >
      {props.children}
    </button>
  );
}

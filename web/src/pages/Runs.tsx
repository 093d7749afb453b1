import { type FormEvent, useMemo, useState } from "react";
import { get, qs } from "../api";
import { Badge, Empty, formatNumber, formatTime, Panel } from "../components";
import { useLoad } from "../hooks";
import { Link, navigate, useLocation } from "../router";
import { useSession } from "../session";
import type { Experiment, Run } from "./types";

/** Experiments, and the runs of one with an MLflow filter, a column picker and run selection to compare. */
export default function RunsPage() {
  const { project } = useSession();
  const { search } = useLocation();
  const experiments = useLoad(
    (signal) =>
      get<{ experiments: Experiment[] }>(`/api/v1/experiments${qs({ project: project.name })}`, signal),
    [project.name],
  );
  const selected = search.get("experiment") ?? experiments.data?.experiments[0]?.id;
  return (
    <div className="page two-col">
      <h1 className="sr-only">Runs</h1>
      <Panel title="Experiments" state={experiments}>
        {({ experiments: list }) =>
          list.length === 0 ? (
            <Empty>No experiments in {project.name} yet.</Empty>
          ) : (
            <ul className="list">
              {list.map((e) => (
                <li key={e.id}>
                  <Link
                    to={`/runs${qs({ experiment: e.id })}`}
                    aria-current={e.id === selected ? "page" : undefined}
                  >
                    {e.name}
                  </Link>
                  <span className="muted"> · {formatTime(e.lastUpdateTime)}</span>
                </li>
              ))}
            </ul>
          )
        }
      </Panel>
      {selected && <RunTable experimentId={selected} initialFilter={search.get("filter") ?? ""} />}
    </div>
  );
}

function RunTable(props: { experimentId: string; initialFilter: string }) {
  const [draft, setDraft] = useState(props.initialFilter);
  const [filter, setFilter] = useState(props.initialFilter);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [pickerOpen, setPickerOpen] = useState(false);
  const runs = useLoad(
    (signal) =>
      get<{ runs: Run[] }>(
        `/api/v1/runs${qs({ experimentId: props.experimentId, filter, maxResults: 200 })}`,
        signal,
      ),
    [props.experimentId, filter],
  );
  const columns = useMemo(() => {
    const params = new Set<string>();
    const metrics = new Set<string>();
    for (const run of runs.data?.runs ?? []) {
      for (const key of Object.keys(run.params)) params.add(key);
      for (const key of Object.keys(run.metrics)) metrics.add(key);
    }
    return [
      ...[...metrics].sort().map((key) => ({ id: `metrics.${key}`, kind: "metric" as const, key })),
      ...[...params].sort().map((key) => ({ id: `params.${key}`, kind: "param" as const, key })),
    ];
  }, [runs.data]);
  const visible = columns.filter((c) => !hidden.has(c.id));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setFilter(draft.trim());
  };
  const toggle = (set: Set<string>, id: string) => {
    const next = new Set(set);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    return next;
  };
  const compare = () => {
    const [first, ...rest] = [...chosen];
    navigate(`/runs/${encodeURIComponent(first)}${qs({ compare: rest.join(",") })}`);
  };
  return (
    <Panel
      title="Runs"
      state={runs}
      actions={
        <button type="button" disabled={chosen.size < 2} onClick={compare}>
          Compare {chosen.size > 0 ? chosen.size : ""} runs
        </button>
      }
    >
      {({ runs: list }) => (
        <>
          <form className="filter" onSubmit={submit} aria-label="Filter runs">
            <label htmlFor="run-filter">Filter (MLflow syntax)</label>
            <input
              id="run-filter"
              value={draft}
              placeholder="metrics.accuracy > 0.9 and params.lr = '0.01'"
              onChange={(e) => setDraft(e.target.value)}
            />
            <button type="submit">Search</button>
            <button type="button" aria-expanded={pickerOpen} onClick={() => setPickerOpen(!pickerOpen)}>
              Columns
            </button>
          </form>
          {pickerOpen && (
            <fieldset className="picker">
              <legend>Columns</legend>
              {columns.map((c) => (
                <label key={c.id}>
                  <input
                    type="checkbox"
                    checked={!hidden.has(c.id)}
                    onChange={() => setHidden(toggle(hidden, c.id))}
                  />
                  {c.id}
                </label>
              ))}
            </fieldset>
          )}
          {list.length === 0 ? (
            <Empty>No runs match.</Empty>
          ) : (
            <div className="scroll">
              <table className="grid" aria-label="Runs">
                <thead>
                  <tr>
                    <th scope="col">
                      <span className="sr-only">Select</span>
                    </th>
                    <th scope="col">Run</th>
                    <th scope="col">Status</th>
                    <th scope="col">Started</th>
                    <th scope="col">User</th>
                    {visible.map((c) => (
                      <th scope="col" key={c.id}>
                        {c.id}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {list.map((run) => (
                    <tr key={run.id}>
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Select ${run.name}`}
                          checked={chosen.has(run.id)}
                          onChange={() => setChosen(toggle(chosen, run.id))}
                        />
                      </td>
                      <td>
                        <Link to={`/runs/${encodeURIComponent(run.id)}`}>{run.name}</Link>
                      </td>
                      <td>
                        <Badge value={run.status} />
                      </td>
                      <td>{formatTime(run.startTime)}</td>
                      <td>{run.user}</td>
                      {visible.map((c) => (
                        <td key={c.id} className="num">
                          {c.kind === "metric"
                            ? formatNumber(run.metrics[c.key]?.value)
                            : (run.params[c.key] ?? "—")}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </Panel>
  );
}

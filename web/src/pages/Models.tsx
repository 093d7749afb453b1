import { get, qs } from "../api";
import { Empty, formatTime, Panel } from "../components";
import { useLoad } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import type { Model } from "./types";

export default function ModelsPage() {
  const { project } = useSession();
  const models = useLoad(
    (signal) => get<{ models: Model[] }>(`/api/v1/models${qs({ project: project.name })}`, signal),
    [project.name],
  );
  return (
    <div className="page">
      <h1>Models</h1>
      <Panel title="Registered models" state={models}>
        {({ models: list }) =>
          list.length === 0 ? (
            <Empty>No registered models in {project.name}.</Empty>
          ) : (
            <table className="grid" aria-label="Registered models">
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Aliases</th>
                  <th scope="col">Production gate</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {list.map((m) => (
                  <tr key={m.id}>
                    <td>
                      <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                      {m.description && <div className="muted">{m.description}</div>}
                    </td>
                    <td>
                      {Object.entries(m.aliases)
                        .map(([alias, v]) => `${alias} → v${v}`)
                        .join(", ") || "—"}
                    </td>
                    <td>
                      {m.gate ? gateText(m.gate) : <span className="warn">none: production refused</span>}
                    </td>
                    <td>{formatTime(m.updatedAt)}</td>
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

export function gateText(gate: NonNullable<Model["gate"]>): string {
  const bounds = [
    gate.min !== undefined ? `≥ ${gate.min}` : "",
    gate.max !== undefined ? `≤ ${gate.max}` : "",
    gate.maxRegression !== undefined ? `regression ≤ ${gate.maxRegression}` : "",
  ].filter(Boolean);
  const evidence = gate.require === "any" ? "reported or measured" : "measured by the platform";
  return `${gate.metric} (${gate.direction} is better) ${bounds.join(", ")}; evidence: ${evidence}`;
}

import { get, qs } from "../api";
import { Badge, Empty, formatTime, Panel } from "../components";
import { useLoad } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import type { Deployment } from "./types";

export default function DeploymentsPage() {
  const { project } = useSession();
  const deployments = useLoad(
    (signal) =>
      get<{ deployments: Deployment[] }>(`/api/v1/deployments${qs({ project: project.name })}`, signal),
    [project.name],
    5000,
  );
  return (
    <div className="page">
      <h1>Deployments</h1>
      <Panel title="Deployments" state={deployments}>
        {({ deployments: list }) =>
          list.length === 0 ? (
            <Empty>No deployments in {project.name}.</Empty>
          ) : (
            <table className="grid" aria-label="Deployments">
              <thead>
                <tr>
                  <th scope="col">Deployment</th>
                  <th scope="col">Model</th>
                  <th scope="col">State</th>
                  <th scope="col">Primary</th>
                  <th scope="col">Canary</th>
                  <th scope="col">Canary share</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {list.map((d) => (
                  <tr key={d.name}>
                    <td>
                      <Link to={`/deployments/${encodeURIComponent(d.name)}`}>{d.name}</Link>{" "}
                      <span className="muted">{d.environment}</span>
                    </td>
                    <td>{d.modelName}</td>
                    <td>
                      <Badge value={d.state} />
                    </td>
                    <td>v{d.primaryVersion}</td>
                    <td>{d.canaryVersion === null ? "—" : `v${d.canaryVersion}`}</td>
                    <td className="num">{d.canaryVersion === null ? "—" : `${d.canaryWeight}%`}</td>
                    <td>{formatTime(d.updatedAt)}</td>
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

import {
  type FormEvent,
  lazy,
  type ReactNode,
  Suspense,
  useCallback,
  useEffect,
  useMemo,
  useState,
} from "react";
import { ApiError, get, setToken, UNAUTHENTICATED_EVENT } from "./api";
import { ErrorBox } from "./components";
import { Link, match, navigate, useLocation } from "./router";
import {
  effectiveRole,
  type Member,
  PROJECT_KEY,
  type Project,
  roleAllows,
  type Session,
  SessionContext,
  TOKEN_KEY,
  type User,
  useSession,
} from "./session";

const RunsPage = lazy(() => import("./pages/Runs"));
const RunDetailPage = lazy(() => import("./pages/RunDetail"));
const ModelsPage = lazy(() => import("./pages/Models"));
const ModelDetailPage = lazy(() => import("./pages/ModelDetail"));
const DeploymentsPage = lazy(() => import("./pages/Deployments"));
const DeploymentDetailPage = lazy(() => import("./pages/DeploymentDetail"));
const JobsPage = lazy(() => import("./pages/Jobs"));
const JobDetailPage = lazy(() => import("./pages/JobDetail"));
const DataPage = lazy(() => import("./pages/Data"));
const WorkspacesPage = lazy(() => import("./pages/Workspaces"));

const NAV = [
  { to: "/runs", label: "Runs" },
  { to: "/models", label: "Models" },
  { to: "/deployments", label: "Deployments" },
  { to: "/jobs", label: "Jobs & GPUs" },
  { to: "/data", label: "Data & retraining" },
  { to: "/workspaces", label: "Workspaces" },
];

interface Identity {
  user: User;
  projects: Project[];
}

async function loadIdentity(): Promise<Identity> {
  const [who, list] = await Promise.all([
    get<{ user: User }>("/api/v1/whoami"),
    get<{ projects: Project[] }>("/api/v1/projects"),
  ]);
  return { user: who.user, projects: list.projects };
}

export function App() {
  const [identity, setIdentity] = useState<Identity>();
  const [error, setError] = useState<Error>();
  const [checking, setChecking] = useState(true);

  const signIn = useCallback(async (token: string) => {
    setToken(token);
    try {
      const loaded = await loadIdentity();
      sessionStorage.setItem(TOKEN_KEY, token);
      setIdentity(loaded);
      setError(undefined);
    } catch (err) {
      setToken(null);
      sessionStorage.removeItem(TOKEN_KEY);
      setError(
        err instanceof ApiError && err.status === 401
          ? new Error(`Sign-in refused: ${err.message}`)
          : (err as Error),
      );
    }
  }, []);

  useEffect(() => {
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) void signIn(saved).finally(() => setChecking(false));
    else setChecking(false);
  }, [signIn]);

  const signOut = useCallback(() => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setIdentity(undefined);
  }, []);

  // A token revoked or expired mid-session: back to the sign-in form, saying why.
  useEffect(() => {
    const onRefused = (event: Event) => {
      signOut();
      setError(new Error(`Signed out: ${(event as CustomEvent<string>).detail}`));
    };
    window.addEventListener(UNAUTHENTICATED_EVENT, onRefused);
    return () => window.removeEventListener(UNAUTHENTICATED_EVENT, onRefused);
  }, [signOut]);

  if (checking) return <p className="muted">Loading…</p>;
  if (!identity) return <SignIn onSubmit={signIn} error={error} />;
  return <SignedIn identity={identity} signOut={signOut} />;
}

function SignIn(props: { onSubmit: (token: string) => Promise<void>; error?: Error }) {
  const [token, setTokenText] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    await props.onSubmit(token.trim());
    setBusy(false);
  };
  return (
    <main className="signin">
      <h1>mlops-platform</h1>
      <form onSubmit={submit}>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setTokenText(e.target.value)}
          required
        />
        <p className="hint">
          Create one with <code>mlops token create</code>. It is kept in this tab's session storage only.
        </p>
        <button type="submit" disabled={busy || token.trim() === ""}>
          Sign in
        </button>
      </form>
      {props.error && <ErrorBox error={props.error} />}
    </main>
  );
}

function SignedIn(props: { identity: Identity; signOut: () => void }) {
  const { user, projects } = props.identity;
  const [projectName, setProjectName] = useState(
    () =>
      sessionStorage.getItem(PROJECT_KEY) ??
      projects.find((p) => p.name === "default")?.name ??
      projects[0]?.name,
  );
  const project = projects.find((p) => p.name === projectName) ?? projects[0];
  const [members, setMembers] = useState<Member[]>();
  useEffect(() => {
    if (!project) return;
    setMembers(undefined);
    const controller = new AbortController();
    get<{ members: Member[] }>(
      `/api/v1/projects/${encodeURIComponent(project.name)}/members`,
      controller.signal,
    )
      .then((r) => setMembers(r.members))
      .catch(() => setMembers([]));
    return () => controller.abort();
  }, [project]);

  const session = useMemo<Session | undefined>(() => {
    if (!project) return undefined;
    const role = effectiveRole(user, project, members);
    return {
      user,
      project,
      projects,
      role,
      can: (permission) => roleAllows(role, permission),
      selectProject: (name) => {
        sessionStorage.setItem(PROJECT_KEY, name);
        setProjectName(name);
      },
      signOut: props.signOut,
    };
  }, [user, project, projects, members, props.signOut]);

  if (!session) return <ErrorBox error={new Error("You are not a member of any project.")} />;
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}

function Shell() {
  const session = useSession();
  const { path } = useLocation();
  useEffect(() => {
    if (path === "/") navigate("/runs");
  }, [path]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">mlops-platform</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <Link to={item.to} aria-current={path.startsWith(item.to) ? "page" : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <label className="project-picker">
          Project{" "}
          <select value={session.project.name} onChange={(e) => session.selectProject(e.target.value)}>
            {session.projects.map((p) => (
              <option key={p.id} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <span className="who" data-testid="who">
          {session.user.name} · {session.role ?? "no access"}
        </span>
        <button type="button" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="muted">Loading page…</p>}>
          <Page path={path} />
        </Suspense>
      </main>
    </>
  );
}

const ROUTES: Array<[string, (params: Record<string, string>) => ReactNode]> = [
  ["/runs/:id", (p) => <RunDetailPage runId={p.id} />],
  ["/runs", () => <RunsPage />],
  ["/models/:name", (p) => <ModelDetailPage name={p.name} />],
  ["/models", () => <ModelsPage />],
  ["/deployments/:name", (p) => <DeploymentDetailPage name={p.name} />],
  ["/deployments", () => <DeploymentsPage />],
  ["/jobs/:id", (p) => <JobDetailPage jobId={p.id} />],
  ["/jobs", () => <JobsPage />],
  ["/data", () => <DataPage />],
  ["/workspaces", () => <WorkspacesPage />],
];

function Page({ path }: { path: string }) {
  for (const [pattern, render] of ROUTES) {
    const params = match(pattern, path);
    if (params) return render(params);
  }
  if (path === "/") return null;
  return (
    <section className="panel">
      <h1>Not found</h1>
      <p>
        No page at <code>{path}</code>. <Link to="/runs">Go to runs</Link>.
      </p>
    </section>
  );
}

/**
 * What runs inside a workspace (docs/architecture/workspaces.md): a small Python launcher, started as the
 * workload's `python3` (so the runtime resolves it to the platform's Python with torch, on every backend),
 * writes sshd's files and then replaces itself with `/usr/sbin/sshd -D -e -f <config>`. sshd runs as the
 * unprivileged workload uid, which the runtime presents as the owner's login user.
 *
 * Everything the launcher needs arrives in the environment: the authorized keys (public, plain env), the
 * host key (write-only secret env, removed from the environment before sshd starts), the config below.
 */

/** Placeholders the launcher fills at start: the port the runtime picked, the per-start state dir. */
export const PORT_PLACEHOLDER = "@PORT@";
export const DIR_PLACEHOLDER = "@DIR@";

/**
 * sshd_config of a workspace. Key-only logins of one user; no root, no passwords, no PAM (sshd is not root);
 * TCP forwarding on (VS Code Remote-SSH and JetBrains Gateway tunnel over it); the session environment
 * (token, tracking URI, CUDA_VISIBLE_DEVICES, PATH with the platform's Python) from ~/.ssh/environment.
 */
export function buildSshdConfig(loginUser: string): string {
  return [
    `Port ${PORT_PLACEHOLDER}`,
    `HostKey ${DIR_PLACEHOLDER}/ssh_host_ed25519_key`,
    `PidFile ${DIR_PLACEHOLDER}/sshd.pid`,
    `AuthorizedKeysFile ${DIR_PLACEHOLDER}/authorized_keys`,
    `AllowUsers ${loginUser}`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "HostbasedAuthentication no",
    "PermitEmptyPasswords no",
    "PermitRootLogin no",
    "UsePAM no",
    // The per-start directory is the workload's own; the sandbox's parents are not the user's to own.
    "StrictModes no",
    "PermitUserEnvironment yes",
    "AllowTcpForwarding yes",
    "AllowStreamLocalForwarding yes",
    "GatewayPorts no",
    "X11Forwarding no",
    "PermitTunnel no",
    "PrintMotd no",
    "PrintLastLog no",
    "ClientAliveInterval 30",
    "ClientAliveCountMax 4",
    "MaxStartups 20:30:60",
    "Subsystem sftp internal-sftp",
    "LogLevel INFO",
    "",
  ].join("\n");
}

/** Env names the launcher reads (plain env unless noted). */
export const LAUNCHER_ENV = {
  config: "MLOPS_WORKSPACE_SSHD_CONFIG",
  authorizedKeys: "MLOPS_WORKSPACE_AUTHORIZED_KEYS",
  /** Secret env: the host key's private part. */
  hostKey: "MLOPS_WORKSPACE_HOST_KEY",
  reportSeconds: "MLOPS_WORKSPACE_REPORT_SECONDS",
  workspaceId: "MLOPS_WORKSPACE_ID",
  /** The platform's CLI (node + bin/mlops.js, read-only in the sandbox): `mlops` on the sessions' PATH. */
  cliNode: "MLOPS_CLI_NODE",
  cliEntry: "MLOPS_CLI_ENTRY",
} as const;

/**
 * The launcher (Python 3, standard library only). It also forks the workspace agent: every
 * MLOPS_WORKSPACE_REPORT_SECONDS it counts established TCP connections to sshd's port (every SSH client,
 * VS Code's server and port forwards included, is one) and reports them to the API with the workload
 * token; the reply may carry an idle warning, which it writes to every terminal of the user's sessions.
 */
export const LAUNCHER_SCRIPT = String.raw`
import json, os, sys, time, urllib.request
E = os.environ
port = E["MLOPS_PORT_SSH"]
state = os.path.join(E.get("MLOPS_WORK_DIR") or "/tmp", ".mlops-sshd")
os.makedirs(state, mode=0o700, exist_ok=True)
os.chmod(state, 0o700)
def write(name, text, mode=0o600):
    path = os.path.join(state, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path
write("ssh_host_ed25519_key", E.pop("MLOPS_WORKSPACE_HOST_KEY"))
write("authorized_keys", E.pop("MLOPS_WORKSPACE_AUTHORIZED_KEYS", "") + "\n")
config = write("sshd_config", E.pop("MLOPS_WORKSPACE_SSHD_CONFIG").replace("@PORT@", port).replace("@DIR@", state))
bindir = os.path.join(state, "bin")
os.makedirs(bindir, exist_ok=True)
for name in ("python", "python3"):
    link = os.path.join(bindir, name)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(sys.executable, link)
cli_node, cli_entry = E.pop("MLOPS_CLI_NODE", ""), E.pop("MLOPS_CLI_ENTRY", "")
if cli_node and cli_entry and os.path.exists(cli_entry):
    # 'mlops run submit' from a session: the CLI talks to the API with the workspace's token, its
    # project is MLOPS_PROJECT (docs/architecture/workspaces.md).
    write("bin/mlops", "#!/bin/sh\nexec '%s' '%s' \"$@\"\n" % (cli_node, cli_entry), 0o755)
    E.setdefault("MLOPS_URL", E.get("MLOPS_API_URL", ""))
E["PATH"] = bindir + ":" + E.get("PATH", "/usr/local/bin:/usr/bin:/bin")
home = E.get("HOME", "/tmp")
sshdir = os.path.join(home, ".ssh")
os.makedirs(sshdir, mode=0o700, exist_ok=True)
skip = {"HOME", "PWD", "OLDPWD", "SHLVL", "_", "USER", "LOGNAME", "SHELL", "MAIL", "TERM"}
lines = [k + "=" + v for k, v in sorted(E.items()) if k not in skip and "\n" not in v and "=" not in k]
fd = os.open(os.path.join(sshdir, "environment"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write("\n".join(lines) + "\n")

def sessions():
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for row in f:
                    cols = row.split()
                    if cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == int(port):
                        count += 1
        except OSError:
            pass
    return count

def broadcast(message):
    text = "\r\n*** mlops: " + message + " ***\r\n"
    try:
        names = os.listdir("/dev/pts")
    except OSError:
        return
    for name in names:
        if not name.isdigit():
            continue
        try:
            fd = os.open("/dev/pts/" + name, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError:
            pass

def agent(parent):
    url = E.get("MLOPS_API_URL", "").rstrip("/") + "/api/v1/workspaces/agent/report"
    every = float(E.get("MLOPS_WORKSPACE_REPORT_SECONDS") or "30")
    warned = None
    while os.getppid() == parent:
        try:
            body = json.dumps({"sessions": sessions()}).encode()
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "content-type": "application/json", "authorization": "Bearer " + E.get("MLOPS_TOKEN", "")})
            with urllib.request.urlopen(request, timeout=10) as response:
                notice = json.loads(response.read() or b"{}").get("notice")
            if notice and notice != warned:
                broadcast(notice)
            warned = notice
        except Exception as err:
            print("mlops-workspace-agent: report failed: %s" % err, file=sys.stderr, flush=True)
        time.sleep(every)
    os._exit(0)

parent = os.getpid()
if E.get("MLOPS_API_URL") and os.fork() == 0:
    agent(parent)
print("mlops-workspace: sshd on port %s" % port, flush=True)
os.execv("/usr/sbin/sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", config])
`;

/** The workload command of a workspace's job. */
export function launcherCommand(): string[] {
  return ["python3", "-c", LAUNCHER_SCRIPT];
}

/**
 * The rank launcher: PID 1 of every workload container (docs/architecture/kubernetes-runtime.md, "Ranks and
 * logs"). A Pod holds the `ranksPerPod` ranks of one node; the launcher starts one process per rank with
 * its torchrun environment (RANK = node rank x ranks per pod + local rank; PET_NODE_RANK comes from the
 * Pod's completion index), forwards SIGTERM to them, and waits for all.
 *
 * Kubernetes keeps one log per container and merges stdout and stderr, so the launcher frames every line:
 * `<replica><o|e>|<text>`; the runtime splits them again (splitFramedLog). Masked values (the job token)
 * are replaced by `sed` before a line leaves the Pod. Each rank's exit status goes to the container's
 * termination message (`mlops-exits 0=0 1=137`), which the API keeps in the Pod's status after the end.
 * Plain POSIX sh + sed: it runs in the workload image and in the platform's own image alike.
 */
export const LAUNCHER_SCRIPT = `set -u
L=\${MLOPS_RANKS_PER_POD:-1}; G=\${MLOPS_GPUS_PER_RANK:-0}; NODE=\${PET_NODE_RANK:-0}
FIRST=\${MLOPS_FIRST_REPLICA:-0}; MASK=\${MLOPS_LOG_SED:-}
STATE=\${MLOPS_LAUNCHER_DIR:-/tmp/mlops-launcher}
mkdir -p "$STATE" "\${MLOPS_OUTPUT_DIR:-$STATE}"
# One framed line per line read; a last line without a newline gets one (sed would have to read ahead).
frame() { while IFS= read -r line || [ -n "$line" ]; do printf '%s|%s\\n' "$1" "$line"; done; }
term() { for f in "$STATE"/pid.*; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done; }
trap term TERM INT
i=0
while [ "$i" -lt "$L" ]; do
  r=$((FIRST + NODE * L + i))
  (
    if [ "\${MLOPS_TORCHRUN:-0}" = 1 ]; then
      W=$((\${PET_NNODES:-1} * L))
      export RANK=$((NODE * L + i)) LOCAL_RANK=$i WORLD_SIZE=$W LOCAL_WORLD_SIZE=$L GROUP_RANK=$NODE
      export NODE_RANK=$NODE ROLE_RANK=$((NODE * L + i)) ROLE_WORLD_SIZE=$W TORCHELASTIC_RUN_ID=none
      export MASTER_ADDR=\${PET_MASTER_ADDR:-} MASTER_PORT=\${PET_MASTER_PORT:-}
    fi
    d=""; k=0
    while [ "$k" -lt "$G" ]; do d="$d\${d:+,}$((i * G + k))"; k=$((k + 1)); done
    export CUDA_VISIBLE_DEVICES="$d"
    for key in \${MLOPS_REPLICA_VALUED:-}; do export "$key=$r"; done
    {
      {
        {
          "$@" 2>&1 1>&3 3>&- 4>&- &
          echo $! >"$STATE/pid.$r"
          wait $! 2>/dev/null # sh's own "Killed"/"Terminated" notice is not the workload's output
          echo $? >"$STATE/exit.$r"
        } | sed -u -e "$MASK" | frame "\${r}e" >&4
      } 3>&1 | sed -u -e "$MASK" | frame "\${r}o" >&4
    } 4>&1
  ) &
  i=$((i + 1))
done
while :; do wait; [ $? -gt 128 ] || break; done
msg="mlops-exits"; status=0; i=0
while [ "$i" -lt "$L" ]; do
  r=$((FIRST + NODE * L + i)); c=$(cat "$STATE/exit.$r" 2>/dev/null || echo x)
  msg="$msg $r=$c"
  [ "$status" = 0 ] && [ "$c" != 0 ] && status=$c
  i=$((i + 1))
done
echo "$msg" >"\${MLOPS_TERMINATION_LOG:-/dev/termination-log}" 2>/dev/null
[ "$status" = x ] && status=1
exit "$status"
`;

/** The container command: `sh -c <launcher> mlops-launcher <argv...>`. */
export function launcherCommand(argv: readonly string[]): string[] {
  return ["/bin/sh", "-c", LAUNCHER_SCRIPT, "mlops-launcher", ...argv];
}

/**
 * The `sed` program that masks values in log lines: each value, escaped for a basic regular expression,
 * replaced by `***`. Kept in the unit's Secret (it contains the values).
 */
export function maskSedProgram(values: readonly string[]): string {
  return values
    .filter((v) => v !== "" && !v.includes("\n"))
    .map((v) => `s/${v.replace(/[\\/.*[\]^$&]/g, (c) => `\\${c}`)}/***/g`)
    .join(";");
}

/** One rank's end as the launcher recorded it: an exit status, or "x" when it has none. */
export type LauncherExit = { exitCode: number | null; signal: string | null };

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

/** A shell's exit status: 128+n is "killed by signal n", as sh reports it (there is no other way to tell). */
export function exitFromStatus(status: number): LauncherExit {
  if (status > 128 && status < 160) {
    const n = status - 128;
    return { exitCode: null, signal: SIGNALS[n] ?? `SIG${n}` };
  }
  return { exitCode: status, signal: null };
}

/** Parses `mlops-exits 0=0 1=137` into per-replica ends; null when it is not a launcher message. */
export function parseTerminationMessage(message: string | undefined): Map<number, LauncherExit> | null {
  const line = message
    ?.split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("mlops-exits"));
  if (!line) return null;
  const exits = new Map<number, LauncherExit>();
  for (const part of line.split(/\s+/).slice(1)) {
    const match = /^(\d+)=(\d+|x)$/.exec(part);
    if (!match) continue;
    if (match[2] !== "x") exits.set(Number(match[1]), exitFromStatus(Number(match[2])));
  }
  return exits;
}

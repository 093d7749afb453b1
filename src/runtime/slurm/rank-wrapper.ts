/**
 * The per-rank wrapper srun starts on the nodes (docs/architecture/slurm.md). Python (stdlib only), because
 * every node that runs the platform's workloads has the cluster Python, and it tells a signal from an exit
 * status exactly. It picks its replica by SLURM_PROCID, derives the torchrun env from Slurm's, gives the
 * rank its share of the allocation's GPUs, writes the rank's stdout/stderr (masked) to its own files on
 * the shared work dir, enforces the timeout and a stop request (stop.json, then TERM -> grace -> KILL of
 * the rank's process group) and writes an exit record, so the control plane needs no connection to the
 * node and can reconcile from files after its own restart.
 */
export const RANK_WRAPPER_PY = String.raw`
import json, os, signal, socket, subprocess, sys, threading, time
from datetime import datetime, timezone

runs_dir, replica_ids = sys.argv[1], sys.argv[2:]
proc_id = int(os.environ.get("SLURM_PROCID", "0"))
replica_id = replica_ids[proc_id]
run_dir = os.path.join(runs_dir, replica_id)
with open(os.path.join(run_dir, "task.json")) as f:
    task = json.load(f)

def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

def write_record(name, record):
    path = os.path.join(run_dir, name)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)

env = dict(task["env"])
for key, value in os.environ.items():
    if key.startswith("SLURM_") or key in ("TMPDIR", "SLURMD_NODENAME"):
        env.setdefault(key, value)
local_id = int(os.environ.get("SLURM_LOCALID", "0"))
visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d != ""]
gpus = int(task["gpus"])
env["CUDA_VISIBLE_DEVICES"] = ",".join(visible[local_id * gpus:(local_id + 1) * gpus]) if gpus > 0 else ""
if task.get("rank"):
    env.update({
        "RANK": os.environ["SLURM_PROCID"],
        "LOCAL_RANK": os.environ["SLURM_LOCALID"],
        "WORLD_SIZE": os.environ["SLURM_NTASKS"],
        "LOCAL_WORLD_SIZE": str(task["rank"]["localWorldSize"]),
        "GROUP_RANK": os.environ["SLURM_NODEID"],
        "NODE_RANK": os.environ["SLURM_NODEID"],
        "ROLE_RANK": os.environ["SLURM_PROCID"],
        "ROLE_WORLD_SIZE": os.environ["SLURM_NTASKS"],
        "MASTER_ADDR": os.environ["MLOPS_MASTER_ADDR"],
        "MASTER_PORT": os.environ["MLOPS_MASTER_PORT"],
        "TORCHELASTIC_RUN_ID": "none",
    })

masks = [m.encode() for m in task.get("mask", []) if m]

def held_back(data):
    # The longest tail of data that may be the start of a secret: kept until the next chunk decides.
    for size in range(min(len(data), max(len(m) for m in masks) - 1), 0, -1):
        if any(m.startswith(data[-size:]) for m in masks):
            return size
    return 0

def pump(src, dst):
    carry = b""
    while True:
        chunk = os.read(src, 65536)
        data = carry + chunk
        for m in masks:
            data = data.replace(m, b"***")
        keep = held_back(data) if chunk else 0
        out, carry = (data[:-keep], data[-keep:]) if keep else (data, b"")
        if out:
            dst.write(out)
            dst.flush()
        if not chunk:
            break
    os.close(src)

stdout = open(task["stdoutPath"], "ab")
stderr = open(task["stderrPath"], "ab")
pumps = []
if masks:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    child_out, child_err = out_w, err_w
    pumps = [threading.Thread(target=pump, args=(out_r, stdout)), threading.Thread(target=pump, args=(err_r, stderr))]
else:
    child_out, child_err = stdout.fileno(), stderr.fileno()

terminate = {"end": None, "kill_at": None, "message": None}
def on_term(signum, frame):
    terminate["slurm_term"] = True
signal.signal(signal.SIGTERM, on_term)

started_at = now()
started_clock = time.monotonic()
try:
    child = subprocess.Popen(task["argv"], cwd=task["cwd"], env=env, stdin=subprocess.DEVNULL,
                             stdout=child_out, stderr=child_err, start_new_session=True)
except OSError as err:
    stderr.write(("cannot start %s: %s\n" % (task["argv"][0], err)).encode())
    stderr.flush()
    write_record("exit.json", {"exitCode": 127, "signal": None, "end": "exited", "startedAt": started_at,
                               "endedAt": now(), "message": "cannot start: %s" % err})
    sys.exit(0)
if masks:
    os.close(out_w)
    os.close(err_w)
    for t in pumps:
        t.start()
node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
write_record("started.json", {"startedAt": started_at, "node": node, "pid": child.pid})

def kill_group(sig):
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass

def begin_end(end, grace_ms, message=None):
    if terminate["end"] is not None:
        return
    terminate["end"], terminate["message"] = end, message
    terminate["kill_at"] = time.monotonic() + grace_ms / 1000.0
    kill_group(signal.SIGTERM)

stop_path = os.path.join(run_dir, "stop.json")
timeout = task.get("timeoutSeconds")
while child.poll() is None:
    if terminate["end"] is None:
        if os.path.exists(stop_path):
            try:
                with open(stop_path) as f:
                    grace = json.load(f).get("graceMs", task["graceMs"])
            except (OSError, ValueError):
                grace = task["graceMs"]
            begin_end("stopped", grace)
        elif terminate.get("slurm_term"):
            begin_end("stopped", task["graceMs"], "terminated by Slurm (scancel, time limit or preemption)")
        elif timeout is not None and time.monotonic() - started_clock >= timeout:
            begin_end("timeout", task["graceMs"])
    elif time.monotonic() >= terminate["kill_at"]:
        kill_group(signal.SIGKILL)
    time.sleep(0.05)
kill_group(signal.SIGKILL)  # what the rank left behind in its group goes with it
if terminate["end"] is None and os.path.exists(stop_path):
    terminate["end"] = "stopped"  # Slurm's TERM (scancel) reached the rank before this loop saw stop.json
elif terminate["end"] is None and terminate.get("slurm_term"):
    terminate["end"], terminate["message"] = "stopped", "terminated by Slurm (scancel, time limit or preemption)"
for t in pumps:
    t.join()
stdout.close()
stderr.close()
code = child.returncode
record = {
    "exitCode": code if code >= 0 else None,
    "signal": signal.Signals(-code).name if code < 0 else None,
    "end": terminate["end"] or "exited",
    "startedAt": started_at,
    "endedAt": now(),
    "node": node,
}
if terminate["message"]:
    record["message"] = terminate["message"]
if terminate.get("slurm_term") and terminate["end"] == "stopped" and not os.path.exists(stop_path):
    record["slurmTerminated"] = True
write_record("exit.json", record)
sys.exit(code if code >= 0 else 128 + (-code))
`;

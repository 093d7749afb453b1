/**
 * The per-replica supervisor, run as `node supervisor.cjs <replica state dir>`.
 *
 * Why a separate process: the replica must outlive a control-plane crash (a training run should not die
 * because the API server was restarted), and yet its end must be recorded exactly. The supervisor runs in
 * its own session, detached from the control plane; it starts the workload as a new process group, writes
 * `process.json` (pids and /proc start times) and, when the workload ends, `exit.json` (exit code or
 * signal, and whether it was a timeout or a stop). It also enforces the timeout, so that a timeout still
 * fires while no control plane is running. A later control plane reads these files to reconcile.
 *
 * Why plain JavaScript in a string: it is started with `process.execPath` directly (~40 ms), in development
 * (tsx) and in the built package alike, with no loader; it is written to the runtime's state dir as a
 * .cjs file (readable in `ps`). It uses nothing but Node's standard library.
 *
 * Protocol: takes the replica's claim file (exclusive create; exits at once when a control plane took it
 * first: the launch was abandoned); reads launch.json {argv, env, cwd, stdoutPath, stderrPath, timeoutMs, graceMs,
 * spareLeaderOnTerm, maskValues, cgroupDirs, envFile}; prints one JSON line {"pid": N} on stdout once the
 * workload runs; on SIGTERM reads stop.json {graceMs} and stops the workload (SIGTERM to the group,
 * SIGKILL after the grace).
 *
 * Secrets in logs: when `maskValues` is not empty (the job's token), the workload's output goes through
 * a pipe and every occurrence of a value is written to the log files as "***" — also one split across
 * reads: a tail that could be the start of a value is held back until the next read (docs/security.md).
 * When the replica has ended, its cgroup directories and its env file are removed.
 */
export const SUPERVISOR_SOURCE = String.raw`"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");

const dir = process.argv[2];
const launch = JSON.parse(fs.readFileSync(path.join(dir, "launch.json"), "utf8"));
// The launch's one-time claim: a control plane that found this launch abandoned (its launcher gone
// before any supervisor ran) holds it already, and has recorded that the replica never started.
try {
  fs.writeFileSync(path.join(dir, "claim"), "supervisor " + process.pid, { flag: "wx", mode: 0o600 });
} catch (error) {
  if (error.code === "EEXIST") process.exit(0);
  throw error;
}
const startedAt = new Date().toISOString();
let pgid = 0;
let end = null;
let finished = false;
let killTimer = null;
let killAt = 0;
let timeoutTimer = null;

// The control plane may be gone when we write: never die of a closed pipe.
process.stdout.on("error", () => {});
process.on("SIGPIPE", () => {});
process.on("SIGHUP", () => {});
process.on("SIGINT", () => {});
process.on("SIGTERM", () => {
  let graceMs = launch.graceMs;
  try {
    graceMs = JSON.parse(fs.readFileSync(path.join(dir, "stop.json"), "utf8")).graceMs;
  } catch {}
  terminate("stopped", graceMs);
});

function writeJson(name, value) {
  const file = path.join(dir, name);
  fs.writeFileSync(file + ".tmp", JSON.stringify(value));
  fs.renameSync(file + ".tmp", file);
}

function procStat(pid) {
  try {
    const text = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], pgrp: Number(f[2]), startTicks: Number(f[19]) };
  } catch {
    return null;
  }
}

function groupMembers() {
  const pids = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (st && st.pgrp === pgid && st.state !== "Z" && st.state !== "X") pids.push(Number(name));
  }
  return pids;
}

function signalGroup(sig) {
  if (!pgid) return;
  if (sig !== "SIGKILL" && launch.spareLeaderOnTerm) {
    // The leader is bubblewrap's outer process: it forwards no signal and, killed, takes the sandbox down
    // at once. Signal the workload's own processes and let it shut down gracefully.
    for (const pid of groupMembers()) {
      if (pid === pgid) continue;
      try { process.kill(pid, sig); } catch {}
    }
    return;
  }
  try { process.kill(-pgid, sig); } catch {}
}

function terminate(reason, graceMs) {
  if (end !== null || finished) return;
  end = reason;
  signalGroup("SIGTERM");
  killAt = Date.now() + graceMs;
  killTimer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
}

function finish(exitCode, signal, message) {
  if (finished) return;
  finished = true;
  clearTimeout(timeoutTimer);
  // Children that outlived the leader belong to the replica too: nothing of it may stay behind, and the
  // exit record must come after the last writer of its logs is gone. While stopping, they keep the rest
  // of their grace period (the kill timer sends SIGKILL); otherwise they are killed at once.
  const giveUpAt = Math.max(Date.now(), killAt) + 5000;
  const reap = () => {
    const members = pgid ? groupMembers() : [];
    if (members.length > 0 && Date.now() < giveUpAt) {
      if (end === null) {
        try { process.kill(-pgid, "SIGKILL"); } catch {}
      }
      return setTimeout(reap, end === null ? 10 : 50);
    }
    if (openStreams > 0 && Date.now() < giveUpAt) return setTimeout(reap, 10);
    clearTimeout(killTimer);
    const oom = oomKilled();
    cleanUp();
    const record = { exitCode, signal, end: end || "exited", startedAt, endedAt: new Date().toISOString() };
    if (message) record.message = message;
    else if (oom) record.message = "out of memory: killed at the replica's memory limit";
    if (members.length > 0) record.message = "processes " + members.join(",") + " would not die";
    writeJson("exit.json", record);
    process.exit(0);
  };
  reap();
}

// Whether the kernel OOM-killed a process of the replica's cgroup (v2 memory.events, v1 memory.oom_control).
function oomKilled() {
  for (const cgroupDir of launch.cgroupDirs || []) {
    for (const file of ["memory.events", "memory.oom_control"]) {
      try {
        const match = /oom_kill (\d+)/.exec(fs.readFileSync(path.join(cgroupDir, file), "utf8"));
        if (match && Number(match[1]) > 0) return true;
      } catch {}
    }
  }
  return false;
}

function cleanUp() {
  for (const cgroupDir of launch.cgroupDirs || []) {
    try { fs.rmdirSync(cgroupDir); } catch {}
  }
  if (launch.envFile) {
    try { fs.unlinkSync(launch.envFile); } catch {}
  }
}

const STARS = Buffer.from("***");
const masks = (launch.maskValues || []).filter((value) => value.length > 0).map((value) => Buffer.from(value));
let openStreams = 0;

function replaceAll(buf, value) {
  let at = buf.indexOf(value);
  if (at < 0) return buf;
  const parts = [];
  let from = 0;
  while (at >= 0) {
    parts.push(buf.subarray(from, at), STARS);
    from = at + value.length;
    at = buf.indexOf(value, from);
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

// Length of the longest tail of buf that is the start of a masked value (held back for the next read).
function heldTail(buf) {
  let hold = 0;
  for (const value of masks) {
    for (let k = Math.min(value.length - 1, buf.length); k > hold; k--) {
      if (buf.subarray(buf.length - k).equals(value.subarray(0, k))) { hold = k; break; }
    }
  }
  return hold;
}

function maskedSink(stream, file) {
  const fd = fs.openSync(file, "a");
  let carry = Buffer.alloc(0);
  openStreams++;
  stream.on("data", (chunk) => {
    let buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    for (const value of masks) buf = replaceAll(buf, value);
    const hold = heldTail(buf);
    carry = Buffer.from(buf.subarray(buf.length - hold));
    if (buf.length > hold) fs.writeSync(fd, buf.subarray(0, buf.length - hold));
  });
  stream.on("close", () => {
    if (carry.length > 0) fs.writeSync(fd, carry);
    fs.closeSync(fd);
    openStreams--;
  });
}

const piped = masks.length > 0;
const out = piped ? "pipe" : fs.openSync(launch.stdoutPath, "a");
const err = piped ? "pipe" : fs.openSync(launch.stderrPath, "a");
const child = spawn(launch.argv[0], launch.argv.slice(1), {
  cwd: launch.cwd,
  env: launch.env,
  detached: true,
  stdio: ["ignore", out, err],
});
if (piped) {
  maskedSink(child.stdout, launch.stdoutPath);
  maskedSink(child.stderr, launch.stderrPath);
} else {
  fs.closeSync(out);
  fs.closeSync(err);
}
child.on("error", (error) => {
  fs.appendFileSync(launch.stderrPath, "[mlops] cannot start the workload: " + error.message + "\n");
  finish(127, null, "cannot start the workload: " + error.message);
});
child.on("exit", (code, signal) => finish(code, signal, null));
if (child.pid !== undefined) {
  pgid = child.pid;
  const self = procStat(process.pid);
  const leader = procStat(child.pid);
  writeJson("process.json", {
    supervisorPid: process.pid,
    supervisorStartTicks: self ? self.startTicks : null,
    pid: child.pid,
    pgid,
    startTicks: leader ? leader.startTicks : null,
    startedAt,
  });
  if (launch.timeoutMs !== null) {
    timeoutTimer = setTimeout(() => terminate("timeout", launch.graceMs), launch.timeoutMs);
  }
  process.stdout.write(JSON.stringify({ pid: child.pid }) + "\n");
}
`;

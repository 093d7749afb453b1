import { describe, expect, it } from "vitest";
import { ConflictError, InputError } from "../errors.js";
import { loginUserFor, parseDuration, validateWorkspaceRequest, type Workspace } from "./workspace.js";
import { canTransition, transitionWorkspace, WORKSPACE_TRANSITIONS } from "./workspace-states.js";

const base = { projectId: "p", name: "dev1", idleTimeoutSeconds: 7200 };

describe("workspace requests", () => {
  it("defaults resources and normalizes the GPU type", () => {
    expect(validateWorkspaceRequest({ ...base, resources: { gpus: 2, gpuType: "H100" } }).resources).toEqual({
      cpu: 2,
      memoryMiB: 8192,
      gpus: 2,
      gpuType: "h100",
    });
  });

  it.each([
    [{ name: "Dev 1" }, /workspace name/],
    [{ name: "" }, /workspace name/],
    [{ resources: { gpus: -1 } }, /gpus/],
    [{ resources: { gpus: 1.5 } }, /gpus/],
    [{ resources: { gpuType: "h100" } }, /needs gpus >= 1/],
    [{ resources: { cpu: 0 } }, /cpu/],
    [{ image: "bad image" }, /image/],
    [{ idleTimeoutSeconds: 0 }, /idleTimeout/],
  ])("refuses %j", (change, message) => {
    expect(() => validateWorkspaceRequest({ ...base, ...change } as typeof base)).toThrow(message);
  });

  it("parses durations", () => {
    expect(parseDuration("2h", "t")).toBe(7200);
    expect(parseDuration("1h30m", "t")).toBe(5400);
    expect(parseDuration("90", "t")).toBe(90);
    expect(parseDuration("7d", "t")).toBe(604800);
    expect(parseDuration("0.5s", "t")).toBe(0.5);
    expect(() => parseDuration("2 hours", "t")).toThrow(InputError);
    expect(() => parseDuration("", "t")).toThrow(InputError);
    expect(() => parseDuration("h", "t")).toThrow(InputError);
  });

  it("derives POSIX login names, never a system account", () => {
    expect(loginUserFor("Alice.Smith")).toBe("alice-smith");
    expect(loginUserFor("root")).toBe("u-root");
    expect(loginUserFor("42")).toBe("u-dev");
    expect(loginUserFor("bob")).toBe("bob");
  });
});

describe("workspace state machine", () => {
  const workspace = {
    name: "dev1",
    state: "running",
    stateReason: "sshd is running",
    endpoint: { host: "127.0.0.1", port: 2222 },
    sessions: 3,
  } as Workspace;

  it("has no way out of deleting and none from stopped to running directly", () => {
    expect(WORKSPACE_TRANSITIONS.deleting).toEqual([]);
    expect(canTransition("stopped", "running")).toBe(false);
    expect(canTransition("stopped", "queued")).toBe(true);
  });

  it("drops the endpoint and sessions when leaving running; refuses what the table does not allow", () => {
    const stopping = transitionWorkspace(workspace, "stopping", "stopped by alice", 5);
    expect(stopping).toMatchObject({ state: "stopping", endpoint: null, sessions: 0, updatedAt: 5 });
    expect(() => transitionWorkspace(stopping, "running", "x", 6)).toThrow(ConflictError);
  });
});

import { describe, expect, it } from "vitest";
import { InputError, UnprocessableError } from "../../errors.js";
import type { ReplicaSpec } from "../runtime.js";
import { checkGang, checkSpec, replicaEnv, resolvePython } from "./replica-setup.js";

const base: ReplicaSpec = {
  jobId: "j1",
  attempt: 0,
  replicaIndex: 0,
  command: ["python", "train.py"],
  env: {},
  resources: { cpu: 1, memoryMiB: 512, gpus: 0 },
  timeoutSeconds: null,
};
const context = { workDir: "/data/jobs/j1", outputDir: "/data/jobs/j1/mlops-output", ports: {} };
const rank = { rank: 1, localRank: 1, nodeRank: 0, worldSize: 2, localWorldSize: 2, nodes: 1 };

describe("checkSpec", () => {
  it.each([
    ["an empty command", { command: [] }],
    ["a bad env name", { env: { "A B": "1" } }],
    ["ports without a network", { network: "none" as const, ports: [{ name: "ssh" }] }],
    ["a port name twice", { ports: [{ name: "ssh" }, { name: "SSH" }] }],
    ["a volume name with ..", { volumes: [{ name: "..", mountPath: "/home/a" }] }],
    ["a volume over /etc", { volumes: [{ name: "v", mountPath: "/etc/ssh" }] }],
    ["a relative mount path", { volumes: [{ name: "v", mountPath: "home/a" }] }],
    ["a user name with a colon", { user: { name: "a:b", home: "/home/a" } }],
    ["a zero timeout", { timeoutSeconds: 0 }],
  ])("refuses %s", (_what, extra) => {
    expect(() => checkSpec({ ...base, ...extra } as ReplicaSpec, true)).toThrow(InputError);
  });

  it("refuses volumes and users without the sandbox", () => {
    const spec = { ...base, volumes: [{ name: "v", mountPath: "/home/a" }] };
    expect(() => checkSpec(spec, false)).toThrow(UnprocessableError);
    expect(() => checkSpec(spec, true)).not.toThrow();
  });

  it("refuses network none for a gang of more than one replica", () => {
    const isolated = { ...base, network: "none" as const };
    expect(() => checkGang([isolated, { ...isolated, replicaIndex: 1 }])).toThrow(/network 'none'/);
    expect(() => checkGang([isolated])).not.toThrow();
  });
});

describe("replicaEnv", () => {
  it("sets the runtime's names over the spec's, devices in the given order", () => {
    const env = replicaEnv(
      {
        ...base,
        env: { HOME: "/evil", CUDA_VISIBLE_DEVICES: "0,1,2,3", PYTHONPATH: "/mine", FOO: "bar" },
        resources: {
          cpu: 1,
          memoryMiB: 512,
          gpus: 2,
          devices: [
            { index: 2, uuid: "GPU-2", simulated: false },
            { index: 0, uuid: "GPU-0", simulated: false },
          ],
        },
        ports: [{ name: "ssh" }],
      },
      { ...context, sdkPythonDir: "/opt/sdk", ports: { ssh: 2222 } },
    );
    expect(env).toMatchObject({
      HOME: "/data/jobs/j1",
      MLOPS_WORK_DIR: "/data/jobs/j1",
      MLOPS_OUTPUT_DIR: "/data/jobs/j1/mlops-output",
      CUDA_VISIBLE_DEVICES: "2,0",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      PYTHONPATH: "/opt/sdk:/mine",
      MLOPS_PORT_SSH: "2222",
      FOO: "bar",
    });
    expect(env.RANK).toBeUndefined();
    expect(replicaEnv(base, context).CUDA_VISIBLE_DEVICES).toBe("");
  });

  it("gives ranks the torchrun names and single-host defaults the user may override", () => {
    const master = { host: "127.0.0.1", port: 29555 };
    const env = replicaEnv({ ...base, rank, env: { NCCL_SOCKET_IFNAME: "eth0" } }, { ...context, master });
    expect(env).toMatchObject({
      RANK: "1",
      LOCAL_RANK: "1",
      WORLD_SIZE: "2",
      MASTER_ADDR: "127.0.0.1",
      MASTER_PORT: "29555",
      GLOO_SOCKET_IFNAME: "lo",
      NCCL_SOCKET_IFNAME: "eth0",
      NCCL_IB_DISABLE: "1",
    });
  });

  it("uses the login user's home as HOME", () => {
    expect(replicaEnv({ ...base, user: { name: "ada", home: "/home/ada" } }, context).HOME).toBe("/home/ada");
  });
});

describe("resolvePython", () => {
  it("maps python and python3 to the runtime's interpreter, nothing else", () => {
    expect(resolvePython(["python", "a.py"], "/venv/bin/python")).toEqual(["/venv/bin/python", "a.py"]);
    expect(resolvePython(["python3"], "/venv/bin/python")).toEqual(["/venv/bin/python"]);
    expect(resolvePython(["/usr/bin/python3.11", "a.py"], "/venv/bin/python")).toEqual([
      "/usr/bin/python3.11",
      "a.py",
    ]);
    expect(resolvePython(["python", "a.py"], null)).toEqual(["python", "a.py"]);
  });
});

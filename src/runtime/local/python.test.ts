import { describe, expect, it } from "vitest";
import { defaultPythonCandidates, findPythonWithTorch } from "./python.js";

describe("findPythonWithTorch", () => {
  it("skips candidates that are missing or lack torch and returns the first that imports it", async () => {
    // Here the python3 first on PATH has no torch, /usr/bin/python3 has it.
    const found = await findPythonWithTorch(["/nonexistent/python3", "python3", "/usr/bin/python3"]);
    expect(found?.path).toBe("/usr/bin/python3");
    expect(found?.torchVersion).toMatch(/^\d+\.\d+/);
  });

  it("returns null when no candidate has torch", async () => {
    expect(await findPythonWithTorch(["/nonexistent/python3", "/bin/false"])).toBeNull();
  });

  it("puts the configured interpreter first", () => {
    expect(defaultPythonCandidates("/opt/venv/bin/python")).toEqual([
      "/opt/venv/bin/python",
      "/usr/bin/python3",
      "python3",
    ]);
    expect(defaultPythonCandidates()).toEqual(["/usr/bin/python3", "python3"]);
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import type { ModelDescriptor, Preprocessing } from "../src/registry/model-descriptor.js";
import { PARITY_TAG } from "../src/registry/registry-catalog.js";
import { normalize, preprocessImage } from "../src/serving/runner/preprocess.js";
import { SqlRegistryStore } from "../src/store/repositories/registry.js";
import { fixtureFiles, upload } from "./registry-helpers.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

/**
 * Serving's preprocessing against the training side's, measured: real PIL + torchvision
 * (test/fixtures/parity/pil_reference.py) write images of every kind that needs converting or resizing and
 * the tensors they preprocess to; serving must reproduce them (docs/serving-model-format.md).
 */
const PYTHON = process.env.MLOPS_PYTHON ?? "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch, torchvision"]).status === 0;

interface Case {
  name: string;
  image: string;
  tensor: string;
  shape: [number, number, number];
  preprocessing: Preprocessing;
  mode: string;
}

function descriptorFor(c: Case): ModelDescriptor {
  return {
    format: "mlops-model/v1",
    task: "classification",
    framework: "pytorch",
    inputName: "input",
    inputShape: c.shape,
    preprocessing: c.preprocessing,
    classes: ["a", "b"],
    output: { kind: "logits" },
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe.skipIf(!hasTorch)("serving preprocessing matches PIL/torchvision (training)", () => {
  let dir: string;
  let cases: Case[];

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "parity-"));
    execFileSync(PYTHON, [path.join(__dirname, "fixtures/parity/pil_reference.py"), dir]);
    cases = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function load(c: Case) {
    const bytes = readFileSync(path.join(dir, c.tensor));
    const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return { image: readFileSync(path.join(dir, c.image)), expected };
  }

  it("covers resizing up and down, every interpolation, crop, gray, RGBA, LA, palette and JPEG", () => {
    const kinds = new Set(cases.map((c) => c.mode));
    for (const mode of ["L", "RGB", "RGBA", "LA", "P"]) expect(kinds).toContain(mode);
    expect(cases.some((c) => c.image.endsWith(".jpg"))).toBe(true);
    const interpolations = new Set(cases.map((c) => c.preprocessing.interpolation ?? "bilinear"));
    expect([...interpolations].sort()).toEqual(["bicubic", "bilinear", "nearest"]);
  });

  it("reproduces every reference tensor (PNG exactly, JPEG within one pixel level)", async () => {
    const report: string[] = [];
    for (const c of cases) {
      const { image, expected } = load(c);
      const { tensor } = await preprocessImage(image, descriptorFor(c));
      const diff = maxAbsDiff(tensor, expected);
      report.push(`${c.name}: ${diff.toExponential(2)}`);
      // One 8-bit level after normalization is scale / std = (1/255) / 0.25.
      const tolerance = c.image.endsWith(".jpg") ? 4 / 255 + 1e-5 : 1e-5;
      expect(diff, `${c.name} (${report.join(", ")})`).toBeLessThanOrEqual(tolerance);
    }
  });

  it("the reported skew: a 28x28 gray digit resized to 32x32 differed with sharp's kernel, now matches", async () => {
    const c = cases.find((x) => x.name === "digit-28-gray") as Case;
    const { image, expected } = load(c);
    const d = descriptorFor(c);
    // What serving did before: sharp's default resize (lanczos3), then RGB.
    const old = await sharp(image)
      .resize(32, 32, { fit: "fill" })
      .removeAlpha()
      .toColourspace("srgb")
      .raw()
      .toBuffer();
    expect(maxAbsDiff(normalize(old, d), expected)).toBeGreaterThan(0.5);
    expect(maxAbsDiff((await preprocessImage(image, d)).tensor, expected)).toBeLessThanOrEqual(1e-5);
  });
});

type Version = { id: string; version: number; tags: Record<string, string>; files: Array<{ path: string }> };

/**
 * Registration and deployment run serving's preprocessing on the samples the training code shipped
 * (`parity/<name>.<image>` + `.f32`) and refuse a mismatch; the tiny classifier stands in for a trained model.
 */
describeEachDatabase("preprocessing parity at registration and deployment", (kind) => {
  let server: TestServer;
  let samplesDir: string;
  const M = "/api/v1/models/digits";
  const modelJson = JSON.parse(fixtureFiles().json.toString("utf8"));

  beforeAll(async () => {
    samplesDir = mkdtempSync(path.join(tmpdir(), "parity-samples-"));
    const jsonPath = path.join(samplesDir, "model.json");
    writeFileSync(jsonPath, JSON.stringify(modelJson));
    execFileSync(PYTHON, [
      path.join(__dirname, "fixtures/parity/pil_reference.py"),
      samplesDir,
      "--for-model",
      jsonPath,
    ]);
    server = await startTestServer(kind);
    expect((await server.call("POST", "/api/v1/models", { name: "digits" })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(samplesDir, { recursive: true, force: true });
  });

  async function files(descriptor: unknown, samples: Record<string, Buffer>) {
    const out = [
      { path: "model.onnx", sha256: await upload(server, fixtureFiles().onnx) },
      { path: "model.json", sha256: await upload(server, Buffer.from(JSON.stringify(descriptor))) },
    ];
    for (const [name, bytes] of Object.entries(samples))
      out.push({ path: `parity/${name}`, sha256: await upload(server, bytes) });
    return out;
  }
  const sample = (name: string) => readFileSync(path.join(samplesDir, name));
  const allSamples = () =>
    Object.fromEntries(
      ["digit.png", "digit.f32", "rgba.png", "rgba.f32", "photo.jpg", "photo.f32"].map((n) => [n, sample(n)]),
    );
  const listVersions = async () => {
    const listed = await server.call("GET", `${M}/versions`);
    expect(listed.status).toBe(200);
    return (listed.body as { versions: Version[] }).versions;
  };
  const versionCount = async () => (await listVersions()).length;

  it.skipIf(!hasTorch)(
    "registers a version whose samples serving reproduces, and says so in a tag",
    async () => {
      const created = await server.call("POST", `${M}/versions`, {
        files: await files(modelJson, allSamples()),
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect((created.body as Version).tags[PARITY_TAG]).toMatch(
        /^passed: 3 sample\(s\), max 0\.\d+ pixel levels$/,
      );
    },
  );

  it.skipIf(!hasTorch)(
    "refuses a model.json whose preprocessing is not the training code's, naming the sample",
    async () => {
      const before = await versionCount();
      const nearest = {
        ...modelJson,
        preprocessing: { ...modelJson.preprocessing, interpolation: "nearest" },
      };
      const refused = await server.call("POST", `${M}/versions`, {
        files: await files(nearest, allSamples()),
      });
      expect(refused.status).toBe(400);
      const message = (refused.body as { error: { message: string } }).error.message;
      expect(message).toMatch(
        /preprocessing parity: parity\/digit\.png: serving's preprocessing differs from the training tensor parity\/digit\.f32 by [\d.]+ \([\d.]+ pixel levels\)/,
      );
      // Wrong normalization is caught too, on the first sample.
      const mean = { ...modelJson, preprocessing: { ...modelJson.preprocessing, mean: [0.45, 0.5, 0.5] } };
      const refusedMean = await server.call("POST", `${M}/versions`, {
        files: await files(mean, allSamples()),
      });
      expect(JSON.stringify(refusedMean.body)).toMatch(/parity\/digit\.png.*12\.\d pixel levels/);
      expect(await versionCount()).toBe(before);
    },
  );

  it("warns, without refusing, when a version has no samples", async () => {
    const created = await server.call("POST", `${M}/versions`, { files: await files(modelJson, {}) });
    expect(created.status).toBe(201);
    expect((created.body as Version).tags[PARITY_TAG]).toMatch(/^unchecked: no parity samples/);
  });

  it("refuses malformed samples with a clear 400 and creates nothing", async () => {
    const before = await versionCount();
    const orphan = await server.call("POST", `${M}/versions`, {
      files: await files(modelJson, { "digit.f32": sample("digit.f32") }),
    });
    expect(orphan.status).toBe(400);
    expect(JSON.stringify(orphan.body)).toContain(
      "parity sample digit needs an image parity/digit.<png|jpg|...>",
    );
    const short = await server.call("POST", `${M}/versions`, {
      files: await files(modelJson, {
        "digit.png": sample("digit.png"),
        "digit.f32": sample("digit.f32").subarray(4),
      }),
    });
    expect(short.status).toBe(400);
    expect(JSON.stringify(short.body)).toContain(
      "parity/digit.f32 has 12284 bytes; inputShape [3, 32, 32] as float32 is 12288",
    );
    const notImage = await server.call("POST", `${M}/versions`, {
      files: await files(modelJson, { "x.png": Buffer.from("not a png"), "x.f32": sample("digit.f32") }),
    });
    expect(notImage.status).toBe(400);
    expect(JSON.stringify(notImage.body)).toContain("parity/x.png: cannot decode image");
    const stray = await server.call("POST", `${M}/versions`, {
      files: await files(modelJson, { "notes.txt": Buffer.from("x") }),
    });
    expect(stray.status).toBe(400);
    expect(await versionCount()).toBe(before);
  });

  it("refuses an abusive inputShape (3x4000x4000) at registration with a clear 400", async () => {
    const before = await versionCount();
    const huge = {
      ...modelJson,
      inputShape: [3, 4000, 4000],
      preprocessing: { ...modelJson.preprocessing, resize: [4000, 4000] },
    };
    const refused = await server.call("POST", `${M}/versions`, { files: await files(huge, {}) });
    expect(refused.status).toBe(400);
    expect((refused.body as { error: { message: string } }).error.message).toBe(
      "model.json: /inputShape [3, 4000, 4000] is 48000000 values per image; at most 16777216 are allowed",
    );
    const wide = {
      ...modelJson,
      inputShape: [3, 32, 5000],
      preprocessing: { ...modelJson.preprocessing, resize: [32, 5000] },
    };
    expect((await server.call("POST", `${M}/versions`, { files: await files(wide, {}) })).status).toBe(400);
    expect(await versionCount()).toBe(before);
  });

  it.skipIf(!hasTorch)(
    "deployment refuses a version stored before the check whose samples do not match",
    async () => {
      // A version registered before parity checks existed: written to the store directly, as it was then.
      const nearest = {
        ...modelJson,
        preprocessing: { ...modelJson.preprocessing, interpolation: "nearest" },
      };
      const uploaded = await files(nearest, allSamples());
      const stat = await Promise.all(uploaded.map((f) => server.platform.artifacts.stat(f.sha256)));
      const model = (await server.call("GET", M)).body as { id: string };
      const old = await new SqlRegistryStore(server.platform.store).insertVersion(model.id, {
        id: randomUUID(),
        source: "upload",
        runId: null,
        runPath: null,
        description: "",
        createdAt: Date.now(),
        createdBy: "admin",
        tags: {},
        files: uploaded.map((f, i) => ({ path: f.path, sha256: f.sha256, size: stat[i].size })),
      });
      const refused = await server.call("POST", "/api/v1/deployments", {
        name: "digits-old",
        model: "digits",
        version: old.version,
        environment: "dev",
      });
      expect(refused.status).toBe(422);
      expect(JSON.stringify(refused.body)).toContain(
        `version ${old.version}: preprocessing parity: parity/digit.png`,
      );
      const good = (await listVersions()).find((v) => v.tags[PARITY_TAG]?.startsWith("passed")) as Version;
      const deployed = await server.call("POST", "/api/v1/deployments", {
        name: "digits-good",
        model: "digits",
        version: good.version,
        environment: "dev",
      });
      expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    },
  );
});

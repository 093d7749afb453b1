import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { predictionLinkOf } from "../src/data/label-studio/webhook.js";
import { addVersion, fixtureBytes, makeProduction, noisePng, postJson } from "./serving-fixtures.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const CLASSIFICATION_CONFIG = `<View>
  <Image name="img" value="$picture" zoom="true"/>
  <Choices name="shape" toName="img" choice="single-radio">
    <Choice value="circle"/><Choice value="square"/><Choice value="triangle"/>
  </Choices>
</View>`;

const DETECTION_CONFIG = `<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name='boxes' toName='image'>
    <Label value="circle"/><Label value="square"/><Label value="triangle"/>
  </RectangleLabels>
</View>`;

interface LsRegion {
  id: string;
  from_name: string;
  to_name: string;
  type: string;
  value: Record<string, unknown>;
  original_width?: number;
  original_height?: number;
  meta: { mlops_prediction_id: string };
}
interface LsPrediction {
  result: LsRegion[];
  score: number;
  model_version: string;
  meta: { mlops_prediction_id: string; deployment: string };
}

describeEachDatabase("serving: Label Studio ML backend", (kind) => {
  let server: TestServer;
  let images: Server;
  let imagesUrl: string;
  let labeler: string;
  let png: Buffer;

  beforeAll(async () => {
    // The image server is on loopback: named as an image host, and allow-listed for outbound requests.
    server = await startTestServer(kind, {
      MLOPS_SERVING_IMAGE_HOSTS: "127.0.0.1",
      MLOPS_OUTBOUND_ALLOW: "127.0.0.1",
    });
    png = await noisePng(64, 48, 11);
    images = createServer((req, res) => {
      if (req.url === "/img.png") res.writeHead(200, { "content-type": "image/png" }).end(png);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => images.listen(0, "127.0.0.1", resolve));
    imagesUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;

    const cls = await addVersion(server, "cls", fixtureBytes("tiny-classifier"));
    await makeProduction(server, "cls", cls);
    expect((await server.call("POST", "/api/v1/deployments", { name: "cls", model: "cls" })).status).toBe(
      201,
    );
    const det = await addVersion(server, "det", fixtureBytes("tiny-detector"));
    expect(
      (
        await server.call("POST", "/api/v1/deployments", {
          name: "det",
          model: "det",
          version: det,
          environment: "dev",
        })
      ).status,
    ).toBe(201);

    await server.call("POST", "/api/v1/users", { name: "labeler1", role: "labeler" });
    labeler = (
      (await server.call("POST", "/api/v1/tokens", { name: "ls", user: "labeler1" })).body as {
        token: string;
      }
    ).token;
  });

  afterAll(async () => {
    await new Promise((resolve) => images?.close(resolve));
    await server?.stop();
  });

  // Changing the setup needs engineer+ (docs/security.md); test/security/roles-access.test.ts has the labeler's 403.
  it("answers health with a labeler token (Basic auth, as Label Studio sends it), setup with an engineer's", async () => {
    const basic = `Basic ${Buffer.from(`ls:${labeler}`).toString("base64")}`;
    const health = await fetch(`${server.url}/integrations/label-studio/cls/health`, {
      headers: { authorization: basic },
    });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "UP", model_class: "mlops:cls" });

    const setup = await postJson(
      server,
      "/integrations/label-studio/cls/setup",
      {
        project: "3.1700000000",
        schema: CLASSIFICATION_CONFIG,
        hostname: "http://localhost:8080",
        access_token: "x",
      },
      {},
      server.adminToken,
    );
    expect(setup).toEqual({ status: 200, body: { model_version: "cls:1" } });
    const stored = await server.call("GET", "/api/v1/deployments/cls");
    expect((stored.body as { labelStudio: unknown }).labelStudio).toEqual({
      fromName: "shape",
      toName: "img",
      type: "choices",
      dataKey: "picture",
      project: "3.1700000000",
      hostname: "http://localhost:8080",
    });
    expect((await fetch(`${server.url}/integrations/label-studio/cls/health`)).status).toBe(401);
  });

  it("predicts choices for Label Studio tasks, with ids a label webhook links back", async () => {
    const request = {
      tasks: [
        {
          id: 101,
          data: { picture: `data:image/png;base64,${png.toString("base64")}` },
          meta: {},
          annotations: [],
          predictions: [],
        },
        { id: 102, data: { picture: `${imagesUrl}/img.png` } },
      ],
      project: "3.1700000000",
      label_config: CLASSIFICATION_CONFIG,
      params: { login: null, password: null, context: null },
    };
    const answer = await postJson(server, "/integrations/label-studio/cls/predict", request, {}, labeler);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const results = (answer.body as { results: LsPrediction[] }).results;
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.model_version).toBe("cls:1");
      expect(r.result).toHaveLength(1);
      const region = r.result[0];
      expect(region).toMatchObject({ from_name: "shape", to_name: "img", type: "choices" });
      expect(["circle", "square", "triangle"]).toContain((region.value.choices as string[])[0]);
      expect(r.score).toBeGreaterThan(0);
      expect(r.score).toBeLessThanOrEqual(1);
      expect(region.meta.mlops_prediction_id).toBe(r.meta.mlops_prediction_id);
      // What the dataset webhook receiver reads back from a Label Studio annotation's prediction.
      const link = predictionLinkOf({ result: r.result, model_version: r.model_version }, "classification");
      expect(link).toMatchObject({ predictionId: r.meta.mlops_prediction_id, modelVersion: "cls:1" });
    }
    // Same image, same answer, whether inline or by URL.
    expect(results[0].result[0].value).toEqual(results[1].result[0].value);
    await server.platform.serving.predictionLog.flush();
    const logged = await server.platform.serving.predictions.find(results[1].meta.mlops_prediction_id);
    expect(logged).toMatchObject({ endpoint: "label-studio", deployment: "cls", outcome: "success" });
  });

  it("predicts rectangles in percent of the image for detection", async () => {
    const answer = await postJson(server, "/integrations/label-studio/det/predict", {
      tasks: [{ id: 7, data: { image: `data:image/png;base64,${png.toString("base64")}` } }],
      label_config: DETECTION_CONFIG,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const [prediction] = (answer.body as { results: LsPrediction[] }).results;
    expect(prediction.model_version).toBe("det:1");
    expect(prediction.result.length).toBeGreaterThan(0);
    const ids = new Set<string>();
    for (const region of prediction.result) {
      ids.add(region.id);
      expect(region).toMatchObject({
        from_name: "boxes",
        to_name: "image",
        type: "rectanglelabels",
        original_width: 64,
        original_height: 48,
      });
      const v = region.value as {
        x: number;
        y: number;
        width: number;
        height: number;
        rotation: number;
        rectanglelabels: string[];
      };
      for (const n of [v.x, v.y, v.width, v.height]) {
        expect(n).toBeGreaterThanOrEqual(0);
        expect(n).toBeLessThanOrEqual(100);
      }
      expect(v.x + v.width).toBeLessThanOrEqual(100.0001);
      expect(v.rotation).toBe(0);
      expect(["circle", "square", "triangle"]).toContain(v.rectanglelabels[0]);
    }
    expect(ids.size).toBe(prediction.result.length);
  });

  it("refuses image URLs on hosts that are not allowed (that task only), and viewers", async () => {
    const foreign = await postJson(server, "/integrations/label-studio/cls/predict", {
      tasks: [{ id: 1, data: { picture: "http://169.254.169.254/latest/meta-data" } }],
    });
    expect(foreign.status).toBe(200);
    expect(foreign.body).toMatchObject({
      results: [
        {
          result: [],
          meta: { mlops_error: expect.stringMatching(/host 169\.254\.169\.254 is not allowed/) },
        },
      ],
    });
    await server.call("POST", "/api/v1/users", { name: "viewer2", role: "viewer" });
    const viewer = (
      (await server.call("POST", "/api/v1/tokens", { name: "v", user: "viewer2" })).body as { token: string }
    ).token;
    const denied = await postJson(
      server,
      "/integrations/label-studio/cls/predict",
      { tasks: [{ id: 1, data: { picture: `${imagesUrl}/img.png` } }] },
      {},
      viewer,
    );
    expect(denied.status).toBe(403);
    const webhook = await postJson(
      server,
      "/integrations/label-studio/cls/webhook",
      { action: "START_TRAINING", project: { id: 3 } },
      {},
      labeler,
    );
    expect(webhook.status).toBe(201);
  });
});

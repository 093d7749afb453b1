import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EgressPolicy } from "../../egress/egress-policy.js";
import { fetchTaskImage } from "./image-source.js";

/** Relative dataset image paths in Label Studio tasks resolve in the deployment's project. */
describe("task image references", () => {
  let server: Server;
  let ownUrl: string;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? "");
      res.end(Buffer.from([1, 2, 3]));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    ownUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const fetchOwn = (ref: string) =>
    fetchTaskImage(ref, {
      ownUrl,
      allowedHosts: [],
      egress: EgressPolicy.strict(),
      take: () => {},
      projectId: "p-b",
    });

  it("adds the deployment's project to a relative dataset path that names none", async () => {
    await fetchOwn("/api/v1/datasets/shapes/items/k1/image");
    expect(seen.at(-1)).toBe("/api/v1/datasets/shapes/items/k1/image?project=p-b");
  });

  it("keeps a project the path names itself, and leaves other paths alone", async () => {
    await fetchOwn("/api/v1/datasets/shapes/items/k1/image?project=other");
    expect(seen.at(-1)).toBe("/api/v1/datasets/shapes/items/k1/image?project=other");
    await fetchOwn("/api/v1/signed/datasets/d/items/i/image?expires=1&sig=x");
    expect(seen.at(-1)).toBe("/api/v1/signed/datasets/d/items/i/image?expires=1&sig=x");
  });
});

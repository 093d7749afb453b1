import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { decodePageToken, encodePageToken, paginate } from "./page-token.js";

describe("page tokens", () => {
  it("round-trips offsets, and treats absent tokens as offset 0", () => {
    for (const offset of [0, 1, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(decodePageToken(encodePageToken(offset))).toBe(offset);
    }
    expect(decodePageToken(undefined)).toBe(0);
    expect(decodePageToken(null)).toBe(0);
    expect(decodePageToken("")).toBe(0);
  });

  it("is URL-safe and opaque", () => {
    const token = encodePageToken(123456, { context: "exp=1;filter=metrics.acc > 0.9" });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(encodeURIComponent(token)).toBe(token);
  });

  it("refuses a token for a different query", () => {
    const token = encodePageToken(50, { context: "query A" });
    expect(decodePageToken(token, { context: "query A" })).toBe(50);
    expect(() => decodePageToken(token, { context: "query B" })).toThrow(/different query/);
    expect(() => decodePageToken(token)).toThrow(InputError);
  });

  it("refuses tampered tokens", () => {
    const token = encodePageToken(50);
    const [payload, mac] = token.split(".");
    // A forged payload with the old MAC.
    const forged = Buffer.from(JSON.stringify({ offset: 5000, q: "" })).toString("base64url");
    expect(() => decodePageToken(`${forged}.${mac}`)).toThrow(/modified/);
    // A flipped MAC character.
    const flipped = mac.slice(0, -1) + (mac.endsWith("A") ? "B" : "A");
    expect(() => decodePageToken(`${payload}.${flipped}`)).toThrow(/modified/);
    // Truncations, garbage, MLflow's own unsigned format, oversize input.
    for (const bad of [
      payload,
      `${payload}.`,
      "not a token",
      "eyJvZmZzZXQiOiAxMH0=",
      `${token}.x`,
      "a".repeat(600),
    ]) {
      expect(() => decodePageToken(bad)).toThrow(InputError);
    }
  });

  it("binds tokens to the secret when one is given", () => {
    const token = encodePageToken(10, { secret: "s3cret" });
    expect(decodePageToken(token, { secret: "s3cret" })).toBe(10);
    expect(() => decodePageToken(token, { secret: "other" })).toThrow(/modified or issued by another server/);
    expect(() => decodePageToken(token)).toThrow(InputError);
  });

  it("refuses a validly signed payload without a proper offset", () => {
    // Build a token whose MAC is right but whose offset is not a non-negative integer: only possible by
    // encoding it ourselves, which shows the offset check is not only the MAC's.
    expect(() => encodePageToken(-1)).toThrow(RangeError);
    expect(() => encodePageToken(1.5)).toThrow(RangeError);
  });
});

describe("paginate", () => {
  const items = Array.from({ length: 25 }, (_, i) => i);

  it("walks all pages in order and stops with no next token", () => {
    const seen: number[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = paginate(items, token, 10, { context: "q" });
      seen.push(...page.items);
      token = page.nextPageToken;
      pages++;
    } while (token);
    expect(seen).toEqual(items);
    expect(pages).toBe(3);
  });

  it("gives no next token when the page ends exactly at the end", () => {
    expect(paginate(items.slice(0, 20), undefined, 10).nextPageToken).toBeDefined();
    const second = paginate(
      items.slice(0, 20),
      paginate(items.slice(0, 20), undefined, 10).nextPageToken,
      10,
    );
    expect(second.items).toHaveLength(10);
    expect(second.nextPageToken).toBeUndefined();
  });
});

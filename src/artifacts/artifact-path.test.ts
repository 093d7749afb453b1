import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import {
  isUnderArtifactDir,
  joinArtifactPath,
  normalizeArtifactDir,
  normalizeArtifactPath,
} from "./artifact-path.js";

describe("normalizeArtifactPath", () => {
  it.each([
    ["model.onnx", "model.onnx"],
    ["a/b/c", "a/b/c"],
    ["a//b/./c", "a/b/c"],
    ["./a/b/", "a/b"],
    ["a/./././b//", "a/b"],
    ["plots/loss curve (final).png", "plots/loss curve (final).png"],
    ["...", "..."],
    ["a/..b/c..", "a/..b/c.."],
    ["50%.txt", "50%.txt"],
    ["caf\u00e9/\u6a21\u578b.onnx", "caf\u00e9/\u6a21\u578b.onnx"],
  ])("normalizes %j to %j", (input, expected) => {
    expect(normalizeArtifactPath(input)).toBe(expected);
  });

  it.each([
    ["..", "'..'"],
    ["../etc/passwd", "'..'"],
    ["a/../../b", "'..'"],
    ["a/..", "'..'"],
    ["/etc/passwd", "absolute"],
    ["//server/share", "absolute"],
    ["C:/Windows", "drive"],
    ["c:foo", "drive"],
    ["a\\..\\b", "backslash"],
    ["a\\b", "backslash"],
    ["a\u0000b", "control"],
    ["a\nb", "control"],
    ["a\u007fb", "control"],
    ["", "empty"],
    [".", "empty"],
    ["./", "empty"],
    ["//", "absolute"],
    // Percent-encoding tricks: decoding happens once, in the HTTP layer, before this function. What is
    // still encoded here was double-encoded and must not become '..' for a later decoder.
    ["%2e%2e/etc", "percent-encoded"],
    ["%2E%2E/etc", "percent-encoded"],
    ["a/%2e%2e%2fb", "percent-encoded"],
    ["..%2fetc", "percent-encoded"],
    ["a%5c..%5cb", "percent-encoded"],
    ["a%00b", "percent-encoded"],
    [".%2e/x", "percent-encoded"],
  ])("rejects %j (%s)", (input, why) => {
    expect(() => normalizeArtifactPath(input)).toThrow(InputError);
    expect(() => normalizeArtifactPath(input)).toThrow(new RegExp(why));
  });

  it("treats an already-decoded %252e%252e as what one decoding of it gives: rejected", () => {
    // What Fastify hands over for a request path containing %252e%252e.
    const decodedOnce = decodeURIComponent("%252e%252e/secret");
    expect(decodedOnce).toBe("%2e%2e/secret");
    expect(() => normalizeArtifactPath(decodedOnce)).toThrow(InputError);
  });

  it("rejects over-long paths, segments and depths, and accepts the limits", () => {
    const seg255 = "x".repeat(255);
    expect(normalizeArtifactPath(seg255)).toBe(seg255);
    expect(() => normalizeArtifactPath("x".repeat(256))).toThrow(/segment is longer than 255/);
    // 5 segments of 200 + 5 slashes + 19 = 1024 bytes: accepted; one byte more: refused.
    const long = Array(5).fill("y".repeat(200)).join("/");
    expect(normalizeArtifactPath(`${long}/${"z".repeat(19)}`)).toHaveLength(1024);
    expect(() => normalizeArtifactPath(`${long}/${"z".repeat(20)}`)).toThrow(/longer than 1024 bytes/);
    // Multi-byte characters count in bytes, not UTF-16 units.
    expect(() => normalizeArtifactPath("\u00e9".repeat(128))).toThrow(/segment is longer/);
    expect(normalizeArtifactPath(Array(64).fill("d").join("/"))).toBe(Array(64).fill("d").join("/"));
    expect(() => normalizeArtifactPath(Array(65).fill("d").join("/"))).toThrow(/deeper than 64/);
  });

  it("does not echo a huge path whole in the error message", () => {
    const huge = `../${"x".repeat(900)}`;
    expect(() => normalizeArtifactPath(huge)).toThrow(InputError);
    // The assertion sits outside any catch, so a function that stops throwing cannot pass it.
    let message: string | undefined;
    try {
      normalizeArtifactPath(huge);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/\.\./);
    expect(message?.length).toBeLessThan(300);
  });
});

describe("normalizeArtifactDir / joinArtifactPath / isUnderArtifactDir", () => {
  it("maps absent and root-only paths to the root", () => {
    for (const root of [undefined, null, "", ".", "./", "./."]) {
      expect(normalizeArtifactDir(root)).toBe("");
    }
    expect(normalizeArtifactDir("a//b/")).toBe("a/b");
    expect(() => normalizeArtifactDir("..")).toThrow(InputError);
    expect(() => normalizeArtifactDir("/")).toThrow(/absolute/);
    expect(() => normalizeArtifactDir("./..")).toThrow(InputError);
  });

  it("joins and validates", () => {
    expect(joinArtifactPath("", "model.onnx")).toBe("model.onnx");
    expect(joinArtifactPath("model", "sub/x.bin")).toBe("model/sub/x.bin");
    expect(() => joinArtifactPath("model", "../x")).toThrow(InputError);
  });

  it("tells whether a path lies under a directory", () => {
    expect(isUnderArtifactDir("a/b", "")).toBe(true);
    expect(isUnderArtifactDir("a/b", "a")).toBe(true);
    expect(isUnderArtifactDir("a", "a")).toBe(true);
    expect(isUnderArtifactDir("ab/c", "a")).toBe(false);
  });
});

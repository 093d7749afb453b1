import { describe, expect, it } from "vitest";
import { likeMatcher, likeMatches } from "./like-match.js";

describe("likeMatches (SQL LIKE / ILIKE without regular expressions)", () => {
  it("matches the whole value, literally where there is no wildcard", () => {
    expect(likeMatches("abc", "abc")).toBe(true);
    expect(likeMatches("xabcy", "abc")).toBe(false);
    expect(likeMatches("ab", "abc")).toBe(false);
    expect(likeMatches("", "")).toBe(true);
    expect(likeMatches("a", "")).toBe(false);
  });

  it("% matches any run of characters, including none and newlines", () => {
    expect(likeMatches("", "%")).toBe(true);
    expect(likeMatches("anything", "%")).toBe(true);
    expect(likeMatches("vision", "vis%")).toBe(true);
    expect(likeMatches("television", "vis%")).toBe(false);
    expect(likeMatches("television", "%vision")).toBe(true);
    expect(likeMatches("x\nab\ny", "%ab%")).toBe(true);
    expect(likeMatches("abcabc", "a%c%c")).toBe(true);
    expect(likeMatches("aba", "ab%ba")).toBe(false);
    expect(likeMatches("abba", "ab%ba")).toBe(true);
    expect(likeMatches("acb", "a%%b")).toBe(true);
  });

  it("places each middle segment at its leftmost match without losing later matches", () => {
    expect(likeMatches("xaayaaz", "%aa%aa%")).toBe(true);
    expect(likeMatches("xaaaz", "%aa%aa%")).toBe(false);
    expect(likeMatches("aXbXc", "a%b%c")).toBe(true);
    expect(likeMatches("acb", "a%b%c")).toBe(false);
  });

  it("_ matches exactly one character, counted by code point", () => {
    expect(likeMatches("abc", "a_c")).toBe(true);
    expect(likeMatches("ac", "a_c")).toBe(false);
    expect(likeMatches("abbc", "a_c")).toBe(false);
    expect(likeMatches("a😀c", "a_c")).toBe(true);
    expect(likeMatches("model-v12", "model-v__")).toBe(true);
    expect(likeMatches("model-v1", "model-v__")).toBe(false);
  });

  it("treats regular-expression characters literally", () => {
    expect(likeMatches("abc", "a.c")).toBe(false);
    expect(likeMatches("a.c", "a.c")).toBe(true);
    expect(likeMatches("(x)+[y]", "(x)+[y]")).toBe(true);
    expect(likeMatches("a^b$c", "a^b$c")).toBe(true);
    expect(likeMatches("aaaa", "a*")).toBe(false);
    expect(likeMatches("a|b", "a|b")).toBe(true);
    expect(likeMatches("a", "a|b")).toBe(false);
  });

  it("a backslash makes %, _ and itself literal", () => {
    expect(likeMatches("100%", "100\\%")).toBe(true);
    expect(likeMatches("1000", "100\\%")).toBe(false);
    expect(likeMatches("a_b", "a\\_b")).toBe(true);
    expect(likeMatches("axb", "a\\_b")).toBe(false);
    expect(likeMatches("a\\b", "a\\\\b")).toBe(true);
    expect(likeMatches("end\\", "end\\")).toBe(true);
  });

  it("LIKE is case-sensitive, ILIKE is not", () => {
    expect(likeMatches("Vision", "vision")).toBe(false);
    expect(likeMatches("Vision", "vision", true)).toBe(true);
    expect(likeMatches("VISION-Model", "%model", true)).toBe(true);
    expect(likeMatches("ÉCOLE", "école", true)).toBe(true);
    expect(likeMatches("ÉCOLE", "école")).toBe(false);
  });

  it("stays fast on patterns that make a backtracking regex explode", () => {
    const value = "a".repeat(120);
    const started = performance.now();
    expect(likeMatches(value, "%a%a%a%a%a%b")).toBe(false);
    expect(likeMatches(value, "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b", true)).toBe(false);
    expect(likeMatches("a".repeat(5000), `${"%a".repeat(200)}%b`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it("a compiled matcher can be reused", () => {
    const m = likeMatcher("%cls%");
    expect(["resnet-cls", "cls", "det"].filter(m)).toEqual(["resnet-cls", "cls"]);
  });
});

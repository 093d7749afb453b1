import { describe, expect, it } from "vitest";
import { jsonNestingExceeds } from "./json-depth.js";

describe("jsonNestingExceeds", () => {
  const nest = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

  it("allows nesting up to the limit and refuses one level more", () => {
    expect(jsonNestingExceeds(nest(256))).toBe(false);
    expect(jsonNestingExceeds(nest(257))).toBe(true);
    expect(jsonNestingExceeds(`{"a":${nest(300)}}`, 300)).toBe(true);
  });

  it("ignores brackets inside strings, escaped quotes included", () => {
    const inString = JSON.stringify({ s: `\\"${"[".repeat(1000)}`, t: "{".repeat(1000) });
    expect(jsonNestingExceeds(inString)).toBe(false);
    expect(jsonNestingExceeds(`["\\"",${nest(300)}]`)).toBe(true);
  });

  it("counts depth, not the number of brackets (many shallow objects pass)", () => {
    const wide = JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ i, v: [i] })));
    expect(jsonNestingExceeds(wide)).toBe(false);
  });
});

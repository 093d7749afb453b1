import { describe, expect, it } from "vitest";
import { matchesRegistryFilter, parseRegistryFilter } from "./registry-search.js";

const models = [
  { name: "digits", tags: {} as Record<string, string> },
  { name: "prompt-a", tags: { "mlflow.prompt.is_prompt": "true" } },
  { name: "flagged-false", tags: { "mlflow.prompt.is_prompt": "false", team: "vision" } },
];

function names(filter: string): string[] {
  const clauses = parseRegistryFilter(filter, ["name"]);
  return models
    .filter((m) => matchesRegistryFilter((k) => (k === "name" ? m.name : m.tags[k.slice(5)]), clauses))
    .map((m) => m.name);
}

describe("registry filter", () => {
  it("accepts the backtick-quoted key search_registered_models() always sends", () => {
    expect(parseRegistryFilter("tag.`mlflow.prompt.is_prompt` != 'true'", ["name"])).toEqual([
      { key: "tags.mlflow.prompt.is_prompt", comparator: "!=", value: "true" },
    ]);
    expect(parseRegistryFilter("tags.`my key-1` = 'x'", ["name"])).toEqual([
      { key: "tags.my key-1", comparator: "=", value: "x" },
    ]);
  });

  it("!= on a tag also matches models without the tag, as MLflow does", () => {
    expect(names("tag.`mlflow.prompt.is_prompt` != 'true'")).toEqual(["digits", "flagged-false"]);
    expect(names("tags.team != 'vision'")).toEqual(["digits", "prompt-a"]);
  });

  it("= , LIKE and IN on a missing tag match nothing", () => {
    expect(names("tags.team = 'vision'")).toEqual(["flagged-false"]);
    expect(names("tags.team LIKE '%'")).toEqual(["flagged-false"]);
    expect(names("tags.team IN ('vision', 'x')")).toEqual(["flagged-false"]);
  });

  it("LIKE and ILIKE use the linear matcher: literal regex characters, case", () => {
    expect(names("name LIKE 'digit_'")).toEqual(["digits"]);
    expect(names("name LIKE 'DIGITS'")).toEqual([]);
    expect(names("name ILIKE 'DIGITS'")).toEqual(["digits"]);
    expect(names("name LIKE '.*'")).toEqual([]);
    expect(names("name LIKE '%-%' AND tag.`mlflow.prompt.is_prompt` != 'true'")).toEqual(["flagged-false"]);
  });

  it("refuses malformed filters with a 400-class error", () => {
    expect(() => parseRegistryFilter("tag.`unterminated != 'x'", ["name"])).toThrow(/Invalid filter/);
    expect(() => parseRegistryFilter("version_number = 1", ["name"])).toThrow(/invalid attribute/);
    expect(() => parseRegistryFilter("name = 'a' AND", ["name"])).toThrow(/AND/);
    expect(() => parseRegistryFilter("name ~ 'a'", ["name"])).toThrow(/Invalid filter/);
  });
});

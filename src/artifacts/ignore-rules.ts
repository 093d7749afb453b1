import { readFile, readdir, lstat } from "node:fs/promises";
import { join } from "node:path";
import ignore, { type Ignore } from "ignore";
import { PayloadTooLargeError } from "../errors.js";

/** Ignore files read in every directory, in this order (later files can re-include with `!pattern`). */
export const DEFAULT_IGNORE_FILES = [".gitignore", ".mlopsignore"] as const;

export interface ListFilesOptions {
  /** More per-directory ignore file names, read after `.gitignore` and `.mlopsignore` (e.g. `.dockerignore`). */
  extraIgnoreFiles?: string[];
  /** Extra gitignore-style patterns applied at the root, after all root ignore files. */
  extraPatterns?: string[];
  /** Refuse (PayloadTooLargeError) more files than this. */
  maxFiles?: number;
  /** Refuse (PayloadTooLargeError) more total bytes than this (regular files' sizes). */
  maxBytes?: number;
}

export interface FileListing {
  /** Paths relative to the root, `/`-separated, sorted: regular files and symlinks (never followed). */
  files: string[];
  /** Sum of the regular files' sizes. */
  totalBytes: number;
}

interface RuleSet {
  /** Directory the rules belong to, relative to the root ("" for the root). */
  base: string;
  rules: Ignore;
}

/**
 * Lists the files under `root` that are not ignored, with git's semantics: every directory's ignore files
 * apply to the paths below it, a deeper file overrides a shallower one, and an ignored directory is not
 * entered (nothing inside it can be re-included). `.git` is always skipped; everything else (including
 * `node_modules/`, virtualenvs, datasets) is up to the ignore files. Sockets, FIFOs and devices are skipped.
 */
export async function listPackableFiles(root: string, opts: ListFilesOptions = {}): Promise<FileListing> {
  const ignoreFileNames = [...DEFAULT_IGNORE_FILES, ...(opts.extraIgnoreFiles ?? [])];
  const maxFiles = opts.maxFiles ?? Number.POSITIVE_INFINITY;
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  const files: string[] = [];
  let totalBytes = 0;

  async function visit(relDir: string, inherited: RuleSet[]): Promise<void> {
    const absDir = join(root, relDir);
    const own = await readRuleSet(
      absDir,
      relDir,
      ignoreFileNames,
      relDir === "" ? opts.extraPatterns : undefined,
    );
    const ruleSets = own ? [...inherited, own] : inherited;
    const entries = (await readdir(absDir, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      if (entry.name === ".git") continue; // a directory, or a file in worktrees and submodules
      const rel = relDir === "" ? entry.name : `${relDir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!isIgnored(`${rel}/`, ruleSets)) await visit(rel, ruleSets);
        continue;
      }
      if (!(entry.isFile() || entry.isSymbolicLink()) || isIgnored(rel, ruleSets)) continue;
      files.push(rel);
      if (entry.isFile()) totalBytes += (await lstat(join(root, rel))).size;
      if (files.length > maxFiles) {
        throw new PayloadTooLargeError(
          `More than ${maxFiles} files to pack under ${root}; exclude data and build outputs in .mlopsignore`,
        );
      }
      if (totalBytes > maxBytes) {
        throw new PayloadTooLargeError(
          `More than ${maxBytes} bytes to pack under ${root}; exclude data and build outputs in .mlopsignore`,
        );
      }
    }
  }

  await visit("", []);
  files.sort();
  return { files, totalBytes };
}

async function readRuleSet(
  absDir: string,
  base: string,
  fileNames: readonly string[],
  extraPatterns: string[] | undefined,
): Promise<RuleSet | undefined> {
  const rules = ignore();
  let any = false;
  for (const name of fileNames) {
    const text = await readFile(join(absDir, name), "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "EISDIR") return undefined;
      throw err;
    });
    if (text !== undefined) {
      rules.add(text);
      any = true;
    }
  }
  if (extraPatterns && extraPatterns.length > 0) {
    rules.add(extraPatterns);
    any = true;
  }
  return any ? { base, rules } : undefined;
}

/** The deepest rule set that has an opinion on the path wins, as in git. */
function isIgnored(rel: string, ruleSets: RuleSet[]): boolean {
  let ignored = false;
  for (const { base, rules } of ruleSets) {
    const relToBase = base === "" ? rel : rel.slice(base.length + 1);
    const result = rules.test(relToBase);
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}

import { createHash } from "node:crypto";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  readdir,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { createGzip } from "node:zlib";
import { Header } from "tar";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError, PayloadTooLargeError } from "../errors.js";
import { packDirectory, unpackArchive } from "./code-archive.js";
import { listPackableFiles } from "./ignore-rules.js";

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "code-archive-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

const LIMITS = { maxBytes: 10 * 1024 * 1024, maxFiles: 1000 };

interface RawEntry {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link" | "FIFO" | "CharacterDevice";
  body?: string;
  linkpath?: string;
  mode?: number;
}

/** Builds a tar.gz byte for byte, so that tests can craft entries that tar.create never would. */
async function craftArchive(entries: RawEntry[]): Promise<Buffer> {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const header = new Header({
      path: e.path,
      type: e.type ?? "File",
      size: e.type === undefined || e.type === "File" ? body.length : 0,
      linkpath: e.linkpath,
      mode: e.mode ?? 0o644,
      mtime: new Date(0),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return buffer(Readable.from([Buffer.concat(blocks)]).pipe(createGzip()));
}

describe("listPackableFiles / packDirectory", () => {
  it("honours root and nested .gitignore and .mlopsignore, always skips .git, keeps node_modules unless ignored", async () => {
    const src = join(tmp, "src");
    await writeTree(src, {
      ".gitignore": "*.pyc\n/data/\nlogs/\n!keep.log\n",
      ".mlopsignore": "checkpoints/\n!important.pyc\n",
      "train.py": "print('train')\n",
      "important.pyc": "compiled but wanted",
      "junk.pyc": "junk",
      "data/images/a.png": "png",
      "lib/data/x.py": "not the root data dir",
      "lib/util.py": "util",
      "lib/.gitignore": "generated_*\n!generated_keep.py\n",
      "lib/generated_a.py": "gen",
      "lib/generated_keep.py": "kept by negation in the deeper file",
      "logs/keep.log": "inside an ignored dir: cannot be re-included (git semantics)",
      "checkpoints/model.pt": "big",
      "node_modules/pkg/index.js": "module",
      ".git/HEAD": "ref: refs/heads/main",
      "sub/.git": "gitdir: ../.git/worktrees/sub",
      "sub/code.py": "sub",
    });
    const expected = [
      ".gitignore",
      ".mlopsignore",
      "important.pyc",
      "lib/.gitignore",
      "lib/data/x.py",
      "lib/generated_keep.py",
      "lib/util.py",
      "node_modules/pkg/index.js",
      "sub/code.py",
      "train.py",
    ];
    const listing = await listPackableFiles(src);
    expect(listing.files).toEqual(expected);

    const packed = await packDirectory(src);
    expect(packed.files).toEqual(expected);
    expect(packed.totalBytes).toBe(listing.totalBytes);
    const dest = join(tmp, "dest");
    const result = await unpackArchive(packed.stream, dest, LIMITS);
    expect(result.files).toEqual(expected);
    expect(await readFile(join(dest, "lib/generated_keep.py"), "utf8")).toBe(
      "kept by negation in the deeper file",
    );
    expect(await readFile(join(dest, "train.py"), "utf8")).toBe("print('train')\n");
  });

  it("applies extra ignore file names and extra patterns", async () => {
    const src = join(tmp, "src");
    await writeTree(src, { ".dockerignore": "*.md\n", "README.md": "r", "a.py": "a", "b.tmp": "b" });
    const { files } = await listPackableFiles(src, {
      extraIgnoreFiles: [".dockerignore"],
      extraPatterns: ["*.tmp"],
    });
    expect(files).toEqual([".dockerignore", "a.py"]);
  });

  it("refuses trees over maxFiles or maxBytes, pointing at .mlopsignore", async () => {
    const src = join(tmp, "src");
    await writeTree(src, { "a.bin": "x".repeat(600), "b.bin": "y".repeat(600), "c.txt": "c" });
    await expect(packDirectory(src, { maxFiles: 2 })).rejects.toThrow(PayloadTooLargeError);
    await expect(packDirectory(src, { maxBytes: 1000 })).rejects.toThrow(/\.mlopsignore/);
    await expect(packDirectory(src, { maxFiles: 3, maxBytes: 1201 })).resolves.toBeDefined();
  });

  it("packs reproducibly: same tree, same bytes, even with different mtimes", async () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    await writeTree(a, { "x.py": "x", "d/y.py": "y" });
    await new Promise((r) => setTimeout(r, 20));
    await writeTree(b, { "d/y.py": "y", "x.py": "x" });
    const hash = async (dir: string) =>
      createHash("sha256")
        .update(await buffer((await packDirectory(dir)).stream))
        .digest("hex");
    expect(await hash(a)).toBe(await hash(b));
    await writeFile(join(b, "x.py"), "changed");
    expect(await hash(a)).not.toBe(await hash(b));
  });

  it("keeps the executable bit and inside-pointing symlinks through a round trip", async () => {
    const src = join(tmp, "src");
    await writeTree(src, { "run.sh": "#!/bin/sh\necho hi\n", "conf/base.yaml": "lr: 0.1\n" });
    await chmod(join(src, "run.sh"), 0o755);
    await symlink("conf/base.yaml", join(src, "config.yaml"));
    const dest = join(tmp, "dest");
    await unpackArchive((await packDirectory(src)).stream, dest, LIMITS);
    expect((await lstat(join(dest, "run.sh"))).mode & 0o111).toBe(0o111);
    expect(await readlink(join(dest, "config.yaml"))).toBe("conf/base.yaml");
    expect(await readFile(join(dest, "config.yaml"), "utf8")).toBe("lr: 0.1\n");
  });
});

describe("unpackArchive refuses hostile archives", () => {
  const refuse = async (
    entries: RawEntry[],
    pattern: RegExp,
    errorClass: typeof InputError | typeof PayloadTooLargeError = InputError,
  ) => {
    const dest = join(tmp, "dest");
    const err = await unpackArchive(Readable.from([await craftArchive(entries)]), dest, LIMITS).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(errorClass);
    expect(String(err.message)).toMatch(pattern);
    // Nothing landed outside the target directory.
    expect((await readdir(tmp)).sort()).toEqual(["dest"]);
  };

  it("refuses '..' paths", () =>
    refuse(
      [
        { path: "ok.txt", body: "ok" },
        { path: "../evil.txt", body: "x" },
      ],
      /'\.\.'/,
    ));
  it("refuses nested '..' paths", () => refuse([{ path: "a/../../evil.txt", body: "x" }], /'\.\.'/));
  it("refuses absolute paths", () => refuse([{ path: "/tmp/evil.txt", body: "x" }], /absolute/));
  it("refuses symlinks with absolute targets", () =>
    refuse([{ path: "link", type: "SymbolicLink", linkpath: "/etc/passwd" }], /points outside/));
  it("refuses symlinks that climb out", () =>
    refuse([{ path: "a/link", type: "SymbolicLink", linkpath: "../../outside" }], /points outside/));
  it("refuses a chain of symlinks that resolves outside", () =>
    refuse(
      [
        { path: "s", type: "SymbolicLink", linkpath: "." },
        { path: "t", type: "SymbolicLink", linkpath: "s/.." },
      ],
      /resolves outside/,
    ));
  it("refuses writing through a symlink planted by an earlier entry", () =>
    refuse(
      [
        { path: "d", type: "Directory" },
        { path: "link", type: "SymbolicLink", linkpath: "d" },
        { path: "link/file.txt", body: "through the link" },
      ],
      /symbolic link|Invalid archive/i,
    ));
  it("refuses hard links", () => refuse([{ path: "h", type: "Link", linkpath: "ok.txt" }], /type Link/));
  it("refuses FIFOs and devices", () => refuse([{ path: "f", type: "FIFO" }], /type FIFO/));
  it("refuses duplicate entries (a file replacing a symlink)", () =>
    refuse(
      [
        { path: "x", type: "SymbolicLink", linkpath: "y" },
        { path: "x", body: "overwrite" },
      ],
      /duplicate/,
    ));
  it("refuses archives over maxFiles", async () => {
    const entries = Array.from({ length: 1001 }, (_, i) => ({ path: `f${i}`, body: "" }));
    await refuse(entries, /more than 1000 entries/, PayloadTooLargeError);
  });
  it("refuses archives over maxBytes", async () => {
    const dest = join(tmp, "dest");
    const archive = await craftArchive([
      { path: "a", body: "x".repeat(3000) },
      { path: "b", body: "y".repeat(3000) },
    ]);
    await expect(
      unpackArchive(Readable.from([archive]), dest, { maxBytes: 5000, maxFiles: 10 }),
    ).rejects.toThrow(PayloadTooLargeError);
  });
  it("refuses garbage as InputError", async () => {
    const dest = join(tmp, "dest");
    await expect(
      unpackArchive(Readable.from([Buffer.from("not a tarball at all")]), dest, LIMITS),
    ).rejects.toThrow(InputError);
  });
  it("refuses a truncated archive as InputError", async () => {
    const src = join(tmp, "src");
    await writeTree(src, { "a.bin": createHash("sha512").update("seed").digest("hex").repeat(200) });
    const whole = await buffer((await packDirectory(src)).stream);
    const dest = join(tmp, "dest");
    await expect(
      unpackArchive(Readable.from([whole.subarray(0, whole.length >> 1)]), dest, LIMITS),
    ).rejects.toThrow(InputError);
  });
  it("refuses a non-empty target directory", async () => {
    const dest = join(tmp, "dest");
    await writeTree(dest, { "already.txt": "here" });
    const archive = await craftArchive([{ path: "a", body: "a" }]);
    await expect(unpackArchive(Readable.from([archive]), dest, LIMITS)).rejects.toThrow(/not empty/);
  });
  it("drops setuid and world-write bits", async () => {
    const dest = join(tmp, "dest");
    const archive = await craftArchive([{ path: "suid", body: "x", mode: 0o4777 }]);
    await unpackArchive(Readable.from([archive]), dest, LIMITS);
    expect((await lstat(join(dest, "suid"))).mode & 0o7777).toBe(0o755);
  });
});

import { mkdir, readdir, readlink, realpath } from "node:fs/promises";
import { dirname, join, posix, relative, isAbsolute } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { create as createTar, type ReadEntry, Unpack } from "tar";
import { InputError, PayloadTooLargeError } from "../errors.js";
import { normalizeArtifactPath } from "./artifact-path.js";
import { type ListFilesOptions, listPackableFiles } from "./ignore-rules.js";

/**
 * Code archives: what `mlops run submit --code DIR` uploads and what a job unpacks as its working
 * directory. Format: gzip-compressed tar with relative paths, regular files and symlinks only.
 *
 * Packing is reproducible: files sorted, mtimes fixed to the epoch, no owner names or atime/ctime, so the
 * same tree packs to the same bytes and therefore to the same artifact sha256 (deduplicated, and a run's
 * code reference changes only when the code does). File modes (the executable bit) are kept.
 */

export type PackOptions = ListFilesOptions;

export interface PackedDirectory {
  /** The tar.gz bytes; consume it once (e.g. `store.put(packed.stream)`). */
  stream: Readable;
  /** What the archive holds, relative and sorted (the ignore files decided). */
  files: string[];
  /** Sum of the regular files' sizes (before compression). */
  totalBytes: number;
}

/** Packs `dir`, honouring `.gitignore`/`.mlopsignore` (nested ones too); see listPackableFiles. */
export async function packDirectory(dir: string, opts: PackOptions = {}): Promise<PackedDirectory> {
  const { files, totalBytes } = await listPackableFiles(dir, opts);
  const pack = createTar(
    { gzip: true, cwd: dir, portable: true, mtime: new Date(0), follow: false, noDirRecurse: true },
    files,
  );
  // tar's Pack is a Minipass stream; Readable.from gives callers a plain Node stream (and propagates
  // errors, e.g. a file deleted between listing and packing).
  return { stream: Readable.from(pack as AsyncIterable<Buffer>), files, totalBytes };
}

export interface UnpackOptions {
  /** Largest total size of the extracted files, in bytes. */
  maxBytes: number;
  /** Most entries (files, directories, symlinks). */
  maxFiles: number;
}

export interface UnpackResult {
  /** Regular files and symlinks written, relative to destDir, sorted. */
  files: string[];
  totalBytes: number;
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/**
 * Extracts a tar.gz into `destDir`, which must be absent or empty (so that nothing already there — a
 * symlink planted earlier — can redirect writes). Refuses with InputError, rather than skipping, any entry
 * that is absolute, has a `..` segment, is a hard link, device or FIFO, is a duplicate, or is a symlink
 * whose target is absolute or resolves outside destDir; refuses with PayloadTooLargeError past the
 * limits. Setuid/setgid/sticky bits and group/other write bits are dropped.
 *
 * On error destDir may hold a partial extraction: the caller created it for this archive and removes it.
 */
export async function unpackArchive(
  source: Readable | AsyncIterable<Uint8Array>,
  destDir: string,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  await mkdir(destDir, { recursive: true });
  if ((await readdir(destDir)).length > 0) throw new InputError(`Unpack target ${destDir} is not empty`);
  const realDest = await realpath(destDir);

  const files: string[] = [];
  const symlinks: string[] = [];
  const seen = new Set<string>();
  let entries = 0;
  let totalBytes = 0;
  let refusal: Error | undefined;

  // Refusals do not abort the parser: aborting would return while earlier entries are still being written,
  // racing the caller's cleanup. Instead every later entry is skipped and the rest of the input drained;
  // the pipeline settles only once tar has finished all pending writes.
  const refuse = (err: Error) => {
    refusal ??= err;
  };
  const unpack = new Unpack({
    cwd: realDest,
    preserveOwner: false,
    // tar's own complaints (bad checksum, extraction through a symlink, unknown format) refuse the archive.
    onwarn: (code: string, message: string, data: Record<string, unknown>) => {
      if (code === "TAR_ENTRY_INFO") return;
      // Typed as a string, but tar passes the Error itself for some warnings.
      const text = (message as unknown) instanceof Error ? (message as unknown as Error).message : message;
      const entryPath = (data?.entry as ReadEntry | undefined)?.path;
      const where = entryPath ? ` (entry '${entryPath}')` : "";
      refuse(new InputError(`Invalid archive: ${text}${where}`));
    },
    filter: (_path: string, entry: unknown) => {
      if (refusal) return false;
      try {
        return admitEntry(entry as ReadEntry);
      } catch (err) {
        refuse(err as Error);
        return false;
      }
    },
  });

  function admitEntry(entry: ReadEntry): boolean {
    const raw = entry.path;
    if (raw === "." || raw === "./") return false; // the archive's root directory entry
    const path = checkedEntryPath(raw);
    if (seen.has(path)) throw new InputError(`Archive entry '${raw}' refused: duplicate path`);
    seen.add(path);
    if (++entries > opts.maxFiles) {
      throw new PayloadTooLargeError(`Archive has more than ${opts.maxFiles} entries`);
    }
    if (entry.type === "Directory") {
      entry.mode = 0o755;
      return true;
    }
    if (entry.type === "SymbolicLink") {
      checkSymlinkTarget(path, String(entry.linkpath ?? ""));
      symlinks.push(path);
      files.push(path);
      return true;
    }
    if (!FILE_TYPES.has(entry.type)) {
      throw new InputError(`Archive entry '${raw}' refused: type ${entry.type} is not allowed`);
    }
    totalBytes += entry.size ?? 0;
    if (totalBytes > opts.maxBytes) {
      throw new PayloadTooLargeError(`Archive content exceeds the limit of ${opts.maxBytes} bytes`);
    }
    entry.mode = (entry.mode ?? 0o644) & 0o755;
    files.push(path);
    return true;
  }

  try {
    await pipeline(source, unpack);
  } catch (err) {
    throw refusal ?? asInputError(err);
  }
  if (refusal) throw refusal;
  // Each symlink was checked alone; a chain of them (`s -> .` then `t -> s/..`) can still point out.
  for (const link of symlinks) await checkResolvedSymlink(realDest, link);
  files.sort();
  return { files, totalBytes };
}

function checkedEntryPath(raw: string): string {
  try {
    return normalizeArtifactPath(raw);
  } catch (err) {
    const reason = err instanceof InputError ? err.details?.reason : undefined;
    throw new InputError(
      `Archive entry '${raw.slice(0, 200)}' refused: ${String(reason ?? (err as Error).message)}`,
    );
  }
}

function checkSymlinkTarget(path: string, target: string): void {
  const escapes = () =>
    new InputError(`Archive entry '${path}' refused: symlink to '${target}' points outside`);
  if (target === "" || target.includes("\0") || posix.isAbsolute(target)) throw escapes();
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === ".." || resolved.startsWith("../")) throw escapes();
}

async function checkResolvedSymlink(realDest: string, link: string): Promise<void> {
  const abs = join(realDest, link);
  let resolved: string;
  try {
    resolved = await realpath(abs);
  } catch {
    // Dangling: resolve what exists of it lexically from the link's real parent directory.
    resolved = join(await realpath(dirname(abs)), await readlink(abs));
  }
  const rel = relative(realDest, resolved);
  if (rel === ".." || rel.startsWith(`..${"/"}`) || isAbsolute(rel)) {
    throw new InputError(`Archive entry '${link}' refused: symlink resolves outside the target directory`);
  }
}

function asInputError(err: unknown): Error {
  if (err instanceof InputError || err instanceof PayloadTooLargeError) return err;
  const e = err as NodeJS.ErrnoException & { tarCode?: string };
  // tar reports malformed archives and refused entries with a tarCode; zlib with Z_* codes.
  if (e.tarCode || (typeof e.code === "string" && e.code.startsWith("Z_"))) {
    return new InputError(`Invalid archive: ${e.message}`);
  }
  return err as Error;
}

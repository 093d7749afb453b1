import { readdir } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../../errors.js";
import { IMAGE_EXTENSIONS, type ImportSource } from "./import-source.js";

/**
 * ImageFolder layout (torchvision): `<dir>/<class>/<image>`; classes are the sub-directory names, sorted.
 * Classification only. Other files (e.g. labels.json) are ignored.
 */
export async function readImageFolder(dir: string): Promise<ImportSource> {
  const root = path.resolve(dir);
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`cannot read image folder ${dir}: ${(err as Error).message}`);
  }
  const classes = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
  if (classes.length === 0)
    throw new InputError(`${dir} has no class sub-directories (ImageFolder: <dir>/<class>/<image>)`);
  const source: ImportSource = { format: "image-folder", classes, records: [], skipped: [] };
  for (const cls of classes) {
    const files = (await readdir(path.join(root, cls), { withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
    for (const name of files) {
      const sourceName = `${cls}/${name}`;
      if (!IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())) {
        source.skipped.push({ entry: sourceName, reason: "not an image file extension" });
        continue;
      }
      source.records.push({ file: path.join(root, cls, name), url: null, sourceName, label: { class: cls } });
    }
  }
  return source;
}

import path from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The web UI: built into dist-web/ at the repository root, which the server serves at `/`. */
export default defineConfig({
  root: here,
  base: "/",
  plugins: [react()],
  build: {
    outDir: path.resolve(here, "../dist-web"),
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
  },
});

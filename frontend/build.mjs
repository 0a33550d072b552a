// Bundle the two entry points into the Python package's static folder, so that the
// wheel carries them and a server needs no npm.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../src/peergraph/web/static/graph/", import.meta.url));
await build({
  entryPoints: { slice: "src/slice.js", explore: "src/explore.js" },
  absWorkingDir: fileURLToPath(new URL(".", import.meta.url)),
  bundle: true,
  minify: true,
  format: "esm",
  splitting: true, // Cytoscape once, in a chunk both pages share
  chunkNames: "chunk-[hash]",
  target: ["es2020"],
  outdir: out,
  legalComments: "linked",
  logLevel: "warning",
});
console.log(`built the graph views into ${out}`);

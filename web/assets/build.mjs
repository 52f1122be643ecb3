// Bundles the viewer and the modeler with their stylesheets and fonts into ../static/build (served offline).
import { build } from 'esbuild';
import { cpSync, mkdirSync } from 'node:fs';

const out = new URL('../static/build/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { viewer: 'src/viewer.js', modeler: 'src/modeler.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  outdir: out,
  logLevel: 'warning',
});
const assets = [
  ['bpmn-js/dist/assets/diagram-js.css', 'diagram-js.css'],
  ['bpmn-js/dist/assets/bpmn-js.css', 'bpmn-js.css'],
  ['bpmn-js/dist/assets/bpmn-font', 'bpmn-font'],
  ['@bpmn-io/properties-panel/dist/assets/properties-panel.css', 'properties-panel.css'],
];
for (const [from, to] of assets) {
  cpSync(new URL(`node_modules/${from}`, import.meta.url).pathname, out + to, { recursive: true });
}
console.log(`bpmn-js assets built in ${out}`);

// `npm run build`: the publishable package in dist/ — JavaScript bundled by esbuild (already a dependency
// of whenflow, and quick), type declarations from tsc, and the task workflow prebundled by Temporal's
// bundleWorkflowCode so an installed worker never runs webpack. See docs/packaging.md.
import { spawn } from 'node:child_process';
import { copyFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { build } from 'esbuild';
import { root } from './ensure-deps.mjs';

const dist = join(root, 'dist');
const started = performance.now();
await rm(dist, { recursive: true, force: true });

/** The package's entries (see "exports" in package.json); code they share goes into chunks beside them. */
const entryPoints = {
  index: 'src/index.ts',
  worker: 'src/worker.ts',
  testing: 'src/testing/index.ts',
  workflows: 'src/workflows/index.ts',
  step: 'src/step.ts',
  cli: 'src/cli/bin.ts',
  // Step threads start from boot.mjs (copied beside the chunks), which imports this.
  'step-thread': 'src/isolation/thread.ts',
};

const javascript = build({
  absWorkingDir: root,
  entryPoints,
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies are installed next to the package; only whenflow's own modules are bundled.
  packages: 'external',
  // Chunks stay beside the entries: the worker finds the prebuilt workflow bundle relative to its own module.
  chunkNames: '[name]-[hash]',
  // Temporal identifies a workflow by its function's name.
  keepNames: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});

const workflowsPath = join(root, 'src/workflows/index.ts');
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error: (message) => process.stderr.write(`${message}\n`), log() {} };
/**
 * The shipped bundles carry an empty source map instead of webpack's (2.7 of 4.2 MB): every worker start
 * parses the map, and the SDK maps the stack of every promise a task creates through it. Workflow stack
 * traces name lines of the bundle, whose module comments (`./src/workflows/task.ts`) say where they come from.
 */
function withEmptySourceMap(code) {
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  if (at < 0) throw new Error('the workflow bundle has no inline source map to replace');
  const map = { version: 3, file: 'workflow-bundle.js', sources: [], names: [], mappings: '' };
  return `${code.slice(0, at)}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}
const writeBundle =
  (file) =>
  ({ code }) =>
    writeFile(join(dist, file), withEmptySourceMap(code));
// Preloaded as in src/worker.ts (bundleFromSources): evaluated once per worker, not once per task.
const preloadModules = [workflowsPath];
const workflowBundles = Promise.all([
  bundleWorkflowCode({ workflowsPath, preloadModules, logger: silent }).then(writeBundle('workflow-bundle.js')),
  bundleWorkflowCode({
    workflowsPath,
    preloadModules,
    workflowInterceptorModules: [join(root, 'src/workflows/tracing-interceptors.ts')],
    logger: silent,
  }).then(writeBundle('workflow-bundle-traced.js')),
]);

// tsc is the slow part: it runs while esbuild and webpack work.
const declarations = typeScriptDeclarations();
await Promise.all([javascript, workflowBundles, declarations]);
await writeFile(join(dist, 'cli.js'), `#!/usr/bin/env node\n${(await readFile(join(dist, 'cli.js'), 'utf8')).replace(/^#!.*\n/, '')}`, {
  mode: 0o755,
});

await copyFile(join(root, 'src/isolation/boot.mjs'), join(dist, 'boot.mjs'));
await addDeclarationExtensions(join(dist, 'types'));
process.stderr.write(`whenflow: built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

function typeScriptDeclarations() {
  return new Promise((done, fail) => {
    const tsc = spawn(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'inherit',
    });
    tsc.on('error', fail);
    tsc.on('exit', (code) => (code === 0 ? done() : fail(new Error(`build: tsc -p tsconfig.build.json failed (exit ${code})`))));
  });
}

/**
 * The sources import without extensions (moduleResolution "Bundler"); Node's ESM resolution, which
 * TypeScript applies to the declarations of an ESM package, needs full paths: './model/task' becomes
 * './model/task.js', './workflows' './workflows/index.js'.
 */
async function addDeclarationExtensions(folder) {
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = await readFile(file, 'utf8');
    const specifiers = new Set([...text.matchAll(/(?:from |import\()'(\.{1,2}\/[^']*)'/g)].map((match) => match[1]));
    let rewritten = text;
    for (const specifier of specifiers) {
      const full = await fullSpecifier(dirname(file), specifier);
      rewritten = rewritten.replaceAll(`'${specifier}'`, `'${full}'`);
    }
    if (rewritten !== text) await writeFile(file, rewritten);
  }
}

async function fullSpecifier(from, specifier) {
  const isFile = (path) =>
    stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
  const target = resolve(from, specifier.replace(/\.(ts|js)$/, ''));
  if (await isFile(`${target}.d.ts`)) return `${specifier.replace(/\.(ts|js)$/, '')}.js`;
  if (await isFile(join(target, 'index.d.ts'))) return `./${relative(from, join(target, 'index.js'))}`.replace(/^\.\/\.\.\//, '../');
  throw new Error(`build: ${relative(root, join(from, 'x'))}: cannot resolve the declaration import '${specifier}'`);
}

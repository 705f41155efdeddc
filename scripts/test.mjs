// `npm test`: installs what is missing, checks formatting and lint rules (Biome, biome.json), type-checks, then runs
// the unit and integration suites
// (the integration suite provisions and starts a real Temporal dev server itself; test/integration/package.test.ts
// builds the package, through `npm pack` and its prepack script).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDependencies, root, run } from './ensure-deps.mjs';

ensureDependencies();
// Formatting and lint rules first: the quickest failure, each diagnostic naming its file, line and column.
run('npm', ['run', '--silent', 'check']);
// The time-skipping scenario tests run Temporal's Java test server: Java and Maven, from Debian's packages when missing.
if (process.platform === 'linux') run('sh', ['scripts/install-java-maven.sh']);
// The Web UI check opens the Temporal Web UI in headless Chromium: from Debian's packages when missing.
if (process.platform === 'linux') run('sh', ['scripts/install-chromium.sh']);
run('npx', ['tsc', '-p', '.']);

const reportDir = mkdtempSync(join(tmpdir(), 'whenflow-test-'));
const report = join(reportDir, 'vitest.json');
const result = spawnSync(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
try {
  // One plain summary line that any CI log reader understands.
  const summary = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = summary.numPendingTests + summary.numTodoTests;
  process.stdout.write(
    `\nvitest: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
  );
} catch {
  process.stdout.write('\nvitest: no report was written\n');
} finally {
  rmSync(reportDir, { recursive: true, force: true });
}
process.exit(result.status ?? 1);

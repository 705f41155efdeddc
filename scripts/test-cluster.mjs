// `npm run test:cluster`: installs what is missing, then runs the cluster checks (test/cluster/run.ts),
// which provision and start PostgreSQL and a multi-process Temporal server themselves.
import { spawnSync } from 'node:child_process';
import { ensureDependencies, root } from './ensure-deps.mjs';

ensureDependencies();
const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/cluster/run.ts', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);

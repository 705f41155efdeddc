// `npm test`: installs what is missing, type-checks, then runs the unit and integration suites
// (the integration suite provisions and starts a real Temporal dev server itself).
import { ensureDependencies, run } from './ensure-deps.mjs';

ensureDependencies();
run('npx', ['tsc', '-p', '.']);
run('npx', ['vitest', 'run', ...process.argv.slice(2)]);

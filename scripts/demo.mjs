// `npm run demo`: an embedded Temporal dev server, a worker on the sample workspace, and one sample
// order processed with its progress shown.
import { ensureDependencies, run } from './ensure-deps.mjs';

ensureDependencies();
const data = process.argv[2] ?? 'samples/order.json';
run(process.execPath, ['bin/whenflow.mjs', 'run', '--workspace', '.', '--file', data, '--name', 'demo order']);

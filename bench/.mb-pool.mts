import { join } from 'node:path';
import { StepThreadPool } from '../src/isolation/pool';
const pool = new StepThreadPool(4);
const ws = join(import.meta.dirname, 'workspaces/chain');
const job = (i: number) => ({ workspace: ws, step: 's01', file: 'steps/s01.mjs', taskId: 't', executionId: `t:${i}:s01`, attempt: 1, name: 'n', tags: [], config: {}, data: { chain: { at: 1 } }, stashKeys: null, secretTexts: [], trackReads: false, blobs: null, connectors: [] });
const limits = { heapMb: 64, timeoutMs: 10000, stopAfterMs: 9000, signal: new AbortController().signal, call: async () => null };
const keep = setInterval(() => {}, 1000);
try {
for (let i = 0; i < 30; i++) await pool.run(job(i), limits);
const n = 300; const t0 = performance.now();
for (let i = 0; i < n; i++) await pool.run(job(i), limits);
process.stderr.write("per run ms " + ((performance.now() - t0) / n).toFixed(2) + "\n");
} catch (e) { console.error(e); }
clearInterval(keep);
process.exit(0);

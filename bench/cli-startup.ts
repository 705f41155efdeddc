/**
 * CLI start-up: `whenflow --help` and `whenflow run` on the demo, for the installed CLI (dist/cli.js,
 * built here when missing) and the repository's source runner (bin/whenflow.mjs, through tsx), each
 * against a bare `node -e ""` measured in the same run, alternating.
 *
 * For `run`, the time outside the task is what the command spends before the task has started (the
 * line "task … started") plus after its last event (the last progress line) until the process exits: the
 * embedded dev server, the worker, the workflow bundle, the module loading. The Temporal CLI must be
 * cached already (any earlier `whenflow run` or `npm test` does that).
 *
 *   node --import tsx bench/cli-startup.ts [--runs 10] [--task-runs 3]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, machine, median, REPO_DIR, writeSection } from './support';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, 'task-runs': { type: 'string', default: '3' } } });
const RUNS = Number(values.runs);
const TASK_RUNS = Number(values['task-runs']);
const HELP_GOAL = 3;
const RUN_GOAL_MS = 2000;
const HEADING = '## CLI start-up — `whenflow --help` and `whenflow run`';

const compiled = join(REPO_DIR, 'dist', 'cli.js');
const sources = join(REPO_DIR, 'bin', 'whenflow.mjs');
if (!existsSync(compiled)) {
  process.stdout.write('building dist/ first (npm run build)\n');
  if (spawnSync('npm', ['run', 'build'], { cwd: REPO_DIR, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
}

interface Timed {
  totalMs: number;
  /** Process start → the line "task … started". */
  beforeTaskMs?: number;
  /** The line "state …" → process exit. */
  afterTaskMs?: number;
  code: number | null;
}

function timeCommand(args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let beforeTaskMs: number | undefined;
    let settledAt: number | undefined;
    let lastEventAt: number | undefined;
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.TEMPORAL_ADDRESS;
    const child = spawn(process.execPath, args, { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      const now = performance.now();
      for (const line of lines) {
        if (beforeTaskMs === undefined && /^task \S+ started/.test(line)) beforeTaskMs = now - started;
        // The task settled with its last event; what follows (the worker's shutdown, the result) is outside it.
        if (settledAt === undefined && /^state\s/.test(line)) settledAt = lastEventAt ?? now;
        if (line.startsWith('  ')) lastEventAt = now;
      }
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      const ended = performance.now();
      resolve({ totalMs: ended - started, code, ...(beforeTaskMs !== undefined ? { beforeTaskMs } : {}), ...(settledAt !== undefined ? { afterTaskMs: ended - settledAt } : {}) });
    });
  });
}

const help: Record<'node' | 'compiled' | 'sources', number[]> = { node: [], compiled: [], sources: [] };
process.stdout.write(`--help: ${RUNS} runs per side, alternating\n`);
for (let i = 0; i < RUNS + 1; i++) {
  const round = { node: await timeCommand(['-e', '']), compiled: await timeCommand([compiled, '--help']), sources: await timeCommand([sources, '--help']) };
  if (i === 0) continue; // warm the file system cache
  for (const side of ['node', 'compiled', 'sources'] as const) help[side].push(round[side].totalMs);
}

const demo = ['run', '-w', '.', '-f', 'samples/order.json'];
const outside: Record<'compiled' | 'sources', number[]> = { compiled: [], sources: [] };
const total: Record<'compiled' | 'sources', number[]> = { compiled: [], sources: [] };
process.stdout.write(`run on the demo: ${TASK_RUNS} runs per side, alternating\n`);
for (let i = 0; i < TASK_RUNS; i++) {
  for (const [side, bin] of [['compiled', compiled], ['sources', sources]] as const) {
    const timed = await timeCommand([bin, ...demo]);
    if (timed.code !== 0 || timed.beforeTaskMs === undefined || timed.afterTaskMs === undefined) throw new Error(`${side}: whenflow run failed (exit ${timed.code})`);
    outside[side].push(timed.beforeTaskMs + timed.afterTaskMs);
    total[side].push(timed.totalMs);
  }
}

const helpRatio = median(help.compiled) / median(help.node);
// A shared machine slows every process alike; in bare Node starts, the cost outside the task does not depend on it as much.
const outsideInNodeStarts = median(outside.compiled) / median(help.node);
const load = os.loadavg()[0]!;
const body = `Measured with \`node --import tsx bench/cli-startup.ts --runs ${RUNS} --task-runs ${TASK_RUNS}\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}.
Medians. "installed" is the package's bin (\`dist/cli.js\`), "sources" the repository's \`bin/whenflow.mjs\` (TypeScript through tsx).

| command | bare \`node -e ""\` | installed | sources | goal |
| --- | --- | --- | --- | --- |
| \`whenflow --help\` | ${fmt(median(help.node))} ms | ${fmt(median(help.compiled))} ms (**${helpRatio.toFixed(2)}×** node) | ${fmt(median(help.sources))} ms (${(median(help.sources) / median(help.node)).toFixed(2)}× node) | ≤ ${HELP_GOAL}× node: ${helpRatio <= HELP_GOAL ? 'met' : 'not met'} |
| \`whenflow run\` on the demo, outside the task | — | **${fmt(median(outside.compiled))} ms** | ${fmt(median(outside.sources))} ms | < ${RUN_GOAL_MS} ms: ${median(outside.compiled) < RUN_GOAL_MS ? 'met' : 'not met'} |
| \`whenflow run\` on the demo, in all | — | ${fmt(median(total.compiled))} ms | ${fmt(median(total.sources))} ms | |

"Outside the task": from the process start to the line \`task … started\` (embedded dev server, worker,
workflow bundle, modules) plus from the task's last event (its last progress line) to the exit. The installed CLI loads a
command's modules only when it runs and uses the workflow bundle built with the package.

The machine's 1-minute load average at the end of the run: ${load.toFixed(1)} on ${os.cpus().length} cores (a bare Node start
took ${fmt(median(help.node))} ms). Outside its task, the installed \`whenflow run\` took **${outsideInNodeStarts.toFixed(1)}** bare Node starts.`;
process.stdout.write(`${body}\n`);
process.stdout.write(`wrote ${writeSection(HEADING, body)}\n`);

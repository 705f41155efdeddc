/**
 * CLI start-up: `whenflow --help` and `whenflow run` on the demo, for the installed CLI (dist/cli.js,
 * built here when missing) and the repository's source runner (bin/whenflow.mjs, through tsx), each
 * against a bare `node -e ""` measured in the same run, alternating. With `--before <git ref>`, the
 * installed CLI of that commit too (built into a temporary folder), for before/after figures of one run.
 *
 * For `run`, the time outside the task is what the command spends before the task has started (the
 * line "task … started") plus after its last event (the last progress line) until the process exits: the
 * embedded dev server, the worker, the workflow bundle, the module loading. The Temporal CLI must be
 * cached already (any earlier `whenflow run` or `npm test` does that).
 *
 *   node --import tsx bench/cli-startup.ts [--runs 10] [--task-runs 3] [--before <git ref>]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, machine, median, REPO_DIR, writeSection } from './support';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '10' }, 'task-runs': { type: 'string', default: '3' }, before: { type: 'string' } },
});
const RUNS = Number(values.runs);
const TASK_RUNS = Number(values['task-runs']);
const BEFORE_REF = values.before;
const HELP_GOAL = 3;
const RUN_GOAL_MS = 2000;
const HEADING = '## CLI start-up — `whenflow --help` and `whenflow run`';

const compiled = join(REPO_DIR, 'dist', 'cli.js');
const sources = join(REPO_DIR, 'bin', 'whenflow.mjs');
if (!existsSync(compiled)) {
  process.stdout.write('building dist/ first (npm run build)\n');
  if (spawnSync('npm', ['run', 'build'], { cwd: REPO_DIR, stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
}

/** The installed CLI of an earlier commit: its files in a temporary folder, this checkout's packages, its own build. */
function buildBefore(ref: string): { cli: string; commit: string; cleanUp: () => void } {
  const commit = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: REPO_DIR, encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(os.tmpdir(), `whenflow-before-${commit}-`));
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: REPO_DIR });
  symlinkSync(join(REPO_DIR, 'node_modules'), join(dir, 'node_modules'));
  process.stdout.write(`building ${commit} in ${dir}\n`);
  if (spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'inherit' }).status !== 0)
    throw new Error(`building ${commit} failed`);
  return { cli: join(dir, 'dist', 'cli.js'), commit, cleanUp: () => rmSync(dir, { recursive: true, force: true }) };
}
const before = BEFORE_REF ? buildBefore(BEFORE_REF) : null;

interface Timed {
  totalMs: number;
  /** Process start → the line "task … started". */
  beforeTaskMs?: number;
  /** The line "state …" → process exit. */
  afterTaskMs?: number;
  /** CPU time of the whenflow process (all its threads) until the line "task … started": what a loaded machine stretches, not what it adds. */
  beforeTaskCpuMs?: number;
  code: number | null;
}

/** User and system CPU time of a process so far (Linux /proc; undefined elsewhere). */
function processCpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, fields 14 and 15 of the file, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

function timeCommand(args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let beforeTaskMs: number | undefined;
    let beforeTaskCpuMs: number | undefined;
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
        if (beforeTaskMs === undefined && /^task \S+ started/.test(line)) {
          beforeTaskMs = now - started;
          beforeTaskCpuMs = processCpuMs(child.pid);
        }
        // The task settled with its last event; what follows (the worker's shutdown, the result) is outside it.
        if (settledAt === undefined && /^state\s/.test(line)) settledAt = lastEventAt ?? now;
        if (line.startsWith('  ')) lastEventAt = now;
      }
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      const ended = performance.now();
      resolve({
        totalMs: ended - started,
        code,
        ...(beforeTaskMs !== undefined ? { beforeTaskMs } : {}),
        ...(beforeTaskCpuMs !== undefined ? { beforeTaskCpuMs } : {}),
        ...(settledAt !== undefined ? { afterTaskMs: ended - settledAt } : {}),
      });
    });
  });
}

type Side = 'node' | 'before' | 'compiled' | 'sources';
const help: Record<Side, number[]> = { node: [], before: [], compiled: [], sources: [] };
const helpSides: [Side, string[]][] = [
  ['node', ['-e', '']],
  ...(before ? [['before', [before.cli, '--help']] as [Side, string[]]] : []),
  ['compiled', [compiled, '--help']],
  ['sources', [sources, '--help']],
];
process.stdout.write(`--help: ${RUNS} runs per side, alternating\n`);
for (let i = 0; i < RUNS + 1; i++) {
  for (const [side, args] of helpSides) {
    const timed = await timeCommand(args);
    if (i > 0) help[side].push(timed.totalMs); // the first round warms the file system cache
  }
}

const demo = ['run', '-w', '.', '-f', 'samples/order.json'];
type RunSide = Exclude<Side, 'node'>;
const outside: Record<RunSide, number[]> = { before: [], compiled: [], sources: [] };
const cpuBefore: Record<RunSide, number[]> = { before: [], compiled: [], sources: [] };
const total: Record<RunSide, number[]> = { before: [], compiled: [], sources: [] };
const runSides: [RunSide, string][] = [
  ...(before ? [['before', before.cli] as [RunSide, string]] : []),
  ['compiled', compiled],
  ['sources', sources],
];
process.stdout.write(`run on the demo: ${TASK_RUNS} runs per side, alternating\n`);
for (let i = 0; i < TASK_RUNS; i++) {
  for (const [side, bin] of runSides) {
    const timed = await timeCommand([bin, ...demo]);
    if (timed.code !== 0 || timed.beforeTaskMs === undefined || timed.afterTaskMs === undefined)
      throw new Error(`${side}: whenflow run failed (exit ${timed.code})`);
    outside[side].push(timed.beforeTaskMs + timed.afterTaskMs);
    if (timed.beforeTaskCpuMs !== undefined) cpuBefore[side].push(timed.beforeTaskCpuMs);
    total[side].push(timed.totalMs);
    process.stdout.write(
      `  ${side}: ${fmt(timed.beforeTaskMs)} ms before the task (CPU ${fmt(timed.beforeTaskCpuMs ?? NaN)} ms), ${fmt(timed.afterTaskMs)} ms after it, ${fmt(timed.totalMs)} ms in all\n`,
    );
  }
}
before?.cleanUp();

const nodeMs = median(help.node);
const ratio = (values: number[]) => (median(values) / nodeMs).toFixed(2);
const helpRatio = median(help.compiled) / nodeMs;
// A shared machine slows every process alike; in bare Node starts, the cost outside the task does not depend on it as much.
const outsideInNodeStarts = median(outside.compiled) / nodeMs;
const load = os.loadavg()[0]!;
const beforeColumn = before ? ` installed before (${before.commit}) |` : '';
const beforeRule = before ? ' --- |' : '';
const beforeCell = (values: number[], text: (v: number[]) => string) => (before ? ` ${text(values)} |` : '');
const body = `Measured with \`node --import tsx bench/cli-startup.ts --runs ${RUNS} --task-runs ${TASK_RUNS}${before ? ` --before ${before.commit}` : ''}\` on ${machine()}, ${new Date().toISOString().slice(0, 10)}.
Medians. "installed" is the package's bin (\`dist/cli.js\`), "sources" the repository's \`bin/whenflow.mjs\` (TypeScript through tsx)${before ? `; "before" is the installed CLI of commit ${before.commit}, built and measured in the same run, alternating with the others` : ''}.

| command | bare \`node -e ""\` |${beforeColumn} installed | sources | goal |
| --- | --- |${beforeRule} --- | --- | --- |
| \`whenflow --help\` | ${fmt(nodeMs)} ms |${beforeCell(help.before, (v) => `${fmt(median(v))} ms (${ratio(v)}× node)`)} ${fmt(median(help.compiled))} ms (**${helpRatio.toFixed(2)}×** node) | ${fmt(median(help.sources))} ms (${ratio(help.sources)}× node) | ≤ ${HELP_GOAL}× node: ${helpRatio <= HELP_GOAL ? 'met' : 'not met'} |
| \`whenflow run\` on the demo, outside the task | — |${beforeCell(outside.before, (v) => `${fmt(median(v))} ms`)} **${fmt(median(outside.compiled))} ms** | ${fmt(median(outside.sources))} ms | < ${RUN_GOAL_MS} ms: ${median(outside.compiled) < RUN_GOAL_MS ? 'met' : 'not met'} |
| \`whenflow run\` on the demo, CPU time of the process before the task | — |${beforeCell(cpuBefore.before, (v) => `${fmt(median(v))} ms`)} ${fmt(median(cpuBefore.compiled))} ms | ${fmt(median(cpuBefore.sources))} ms | |
| \`whenflow run\` on the demo, in all | — |${beforeCell(total.before, (v) => `${fmt(median(v))} ms`)} ${fmt(median(total.compiled))} ms | ${fmt(median(total.sources))} ms | |

"Outside the task": from the process start to the line \`task … started\` (embedded dev server, worker,
workflow bundle, modules) plus from the task's last event (its last progress line) to the exit. The installed CLI loads a
command's modules only when it runs and uses the workflow bundle built with the package. "CPU time before the task" is
the user and system time of the \`whenflow\` process (all its threads, not the dev server's process) until the line
\`task … started\`: a loaded machine stretches it less than wall time, and work done in parallel does not hide in it.

The machine's 1-minute load average at the end of the run: ${load.toFixed(1)} on ${os.cpus().length} cores (a bare Node start
took ${fmt(nodeMs)} ms). Outside its task, the installed \`whenflow run\` took **${outsideInNodeStarts.toFixed(1)}** bare Node starts${before ? `, ${(median(outside.before) / nodeMs).toFixed(1)} before` : ''}.`;
process.stdout.write(`${body}\n`);
process.stdout.write(`wrote ${writeSection(HEADING, body)}\n`);

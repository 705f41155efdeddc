import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';

const program = join(import.meta.dirname, '..', 'support', 'embedded-worker-exit.ts');
const workspace = join(import.meta.dirname, '..', 'workspaces', 'local-steps');

/** Runs the program; resolves with its output and how long it lived after reporting its task. */
function runProgram(data: object): Promise<{ code: number | null; output: string; afterReportMs: number | null }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', program, inject('temporalAddress'), inject('temporalNamespace'), workspace, JSON.stringify(data)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  let reportedAt: number | null = null;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (reportedAt === null && output.includes('task ')) reportedAt = performance.now();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  // A process that does not end by itself is stopped here, and the test sees how long it lingered.
  const limit = setTimeout(() => child.kill('SIGKILL'), 45_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(limit);
      resolve({ code, output, afterReportMs: reportedAt === null ? null : performance.now() - reportedAt });
    }),
  );
}

it('a program that embeds a worker ends by itself once the worker has stopped (its step threads keep nothing alive)', async () => {
  // Local and regular steps both ran: every step thread the worker started has been busy.
  const { code, output, afterReportMs } = await runProgram({ quick: {}, long: { wanted: true }, forced: { wanted: true } });
  expect(output).toMatch(/task done after \d+ step runs/);
  expect(code, output).toBe(0);
  expect(afterReportMs).not.toBeNull();
  expect(afterReportMs!).toBeLessThan(10_000);
}, 60_000);

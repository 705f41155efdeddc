/** Every command writes all of its output before it exits, also through a pipe that takes 64 KiB at a time. */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'whenflow.mjs');
let workspace: string;

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'whenflow-output-'));
  await mkdir(join(workspace, 'steps'));
  // The answer for data that does not match repeats the value found: as large as the data.
  await writeFile(
    join(workspace, 'steps', 'counts.mjs'),
    'export const condition = { blob: Number };\nexport const content = async () => {};\n',
  );
});

afterAll(() => rm(workspace, { recursive: true, force: true }));

/** Runs the command with stdout on a pipe that is read slowly, as `| wc -c` or a busy consumer would. */
function runPiped(args: string[]): Promise<{ code: number | null; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.pause();
    // Start reading only after the command had time to finish its work and call exit.
    setTimeout(() => child.stdout.resume(), 1500);
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks) }));
  });
}

describe('output through a pipe', () => {
  it('a 5 MB --json answer arrives whole and parses', async () => {
    const blob = 'x'.repeat(5 * 1024 * 1024);
    const dataFile = join(workspace, 'big.json');
    await writeFile(dataFile, JSON.stringify({ blob }));
    const { code, stdout } = await runPiped(['step', 'validate', '-w', workspace, '-f', dataFile, '--json']);
    expect(code).toBe(0);
    expect(stdout.length).toBeGreaterThan(5 * 1024 * 1024);
    const verdicts = JSON.parse(stdout.toString('utf8')) as { step: string; mismatch: { actual: unknown } }[];
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]?.mismatch.actual).toBe(blob);
  });
});

/** Catalog analysis in `workspace check`, on a catalog built to hold each kind of problem, and on the demo workspace. */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Finding } from '../../src/analysis';
import { whenflow } from '../support/cli';

const root = join(import.meta.dirname, '..', '..');
const suiteServer = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });
const scratch: string[] = [];

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** A copy of a workspace (`whenflow test` records what steps wrote inside it). */
async function copyOf(parts: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'whenflow-analysis-'));
  scratch.push(dir);
  for (const part of parts) await cp(join(root, part.split(':')[0]!), join(dir, part.split(':')[1] ?? part), { recursive: true });
  return dir;
}

async function check(workspace: string): Promise<{ code: number; findings: Finding[]; stdout: string }> {
  const result = await whenflow(['workspace', 'check', '-w', workspace, '--json']);
  return { code: result.code, findings: (JSON.parse(result.stdout) as { findings: Finding[] }).findings, stdout: result.stdout };
}

describe('workspace check analyses the catalog', () => {
  it('finds each kind of problem in a catalog built to hold them, as warnings (exit 0)', async () => {
    const workspace = await copyOf([
      'test/workspaces/catalog-problems/steps:steps',
      'test/workspaces/catalog-problems/scenarios:scenarios',
    ]);
    const before = await check(workspace);
    expect(before.code).toBe(0);
    // Without scenario runs there are no observed writes to compare.
    expect(before.findings.map((f) => f.kind).sort()).toEqual(['never-matches', 'shadowed', 'unknown-key']);

    const tested = await whenflow(['test', '-w', workspace], suiteServer());
    expect(tested.code).toBe(0);
    const { code, findings } = await check(workspace);
    expect(code).toBe(0);
    expect(findings).toEqual([
      expect.objectContaining({ kind: 'never-matches', steps: ['refund_large'], paths: ['refund.amount'] }),
      expect.objectContaining({ kind: 'shadowed', steps: ['survey_ticket', 'close_ticket'], paths: ['ticket.state'] }),
      expect.objectContaining({ kind: 'unknown-key', steps: ['approve'], paths: ['aproval'], didYouMean: 'approval' }),
      expect.objectContaining({ kind: 'overlapping-writes', steps: ['price_member', 'price_standard'], paths: ['/cart/price'] }),
    ]);

    const words = await whenflow(['workspace', 'check', '-w', workspace]);
    expect(words.code).toBe(0);
    expect(words.stdout).toContain(
      'warning  unknown key: approve reads aproval, which no step writes and no sample or scenario holds (did you mean `approval`?)',
    );
    expect(words.stdout).toContain('4 warnings');
  });

  it('finds nothing in the demo workspace, after its scenarios ran', async () => {
    const workspace = await copyOf(['steps', 'scenarios', 'samples', 'connectors']);
    const tested = await whenflow(['test', '-w', workspace], suiteServer());
    expect(tested.code).toBe(0);
    const { code, findings } = await check(workspace);
    expect(code).toBe(0);
    expect(findings).toEqual([]);
  });

  it('still exits 2 for problems, which come before any analysis', async () => {
    const result = await whenflow(['workspace', 'check', '-w', join(root, 'test', 'workspaces', 'broken'), '--json']);
    expect(result.code).toBe(2);
    expect((JSON.parse(result.stdout.split('\n')[0]!) as { findings: Finding[] }).findings).toEqual([]);
  });
});

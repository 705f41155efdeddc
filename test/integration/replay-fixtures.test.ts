import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundle } from '../../src/worker';

const dir = join(import.meta.dirname, '..', 'histories');

/**
 * Histories recorded from earlier versions of the task workflow (WHENFLOW_RECORD_HISTORIES=1 npm test)
 * must keep replaying: a workflow change that breaks one needs Temporal versioning (patched()), not a
 * silent break of tasks already running.
 */
describe('recorded task histories', () => {
  // test/histories/<suite>/<workflow ID>.json
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('are present', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('replay with the current workflow code without nondeterminism', async () => {
    const histories = files.map((file) => ({
      workflowId: basename(file, '.json'),
      history: JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories as never)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});

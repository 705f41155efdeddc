import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { TASK_SEARCH_ATTRIBUTES } from '../../src/model/search-attributes';
import { provisionTemporalBinary } from '../../src/temporal/binary';
import { dynamicConfigArgs } from '../../src/temporal/dev-server';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
  }
}

/**
 * One real Temporal dev server for every integration test file, started by @temporalio/testing from
 * the official Temporal CLI (built once with Go and cached when none is installed).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const path = await provisionTemporalBinary((line) => process.stderr.write(`${line}\n`));
  const start = () =>
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: path ? { type: 'existing-path', path } : { type: 'cached-download' },
        searchAttributes: TASK_SEARCH_ATTRIBUTES,
        // The settings of whenflow's own dev server (no 40 ms wait per hand-off).
        extraArgs: dynamicConfigArgs(),
        log: { format: 'pretty', level: 'warn' },
      },
    });
  // The dev server occasionally fails while starting one of its listeners; another start succeeds.
  const env = await start()
    .catch(() => start())
    .catch(() => start());
  project.provide('temporalAddress', env.address);
  project.provide('temporalNamespace', env.namespace ?? 'default');
  return () => env.teardown();
}

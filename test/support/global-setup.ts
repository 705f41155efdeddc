import type { TestProject } from 'vitest/node';
import { startDevServer } from '../../src/temporal/server';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
  }
}

/** Starts one real Temporal dev server (the official CLI) for every integration test file. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const session = await startDevServer({ log: (line) => process.stderr.write(`${line}\n`) });
  project.provide('temporalAddress', session.address);
  project.provide('temporalNamespace', session.namespace);
  return () => session.close();
}

import pc from 'picocolors';
import { resolve } from 'node:path';
import { InvalidWorkspaceError, openWorkspace } from '../../workspace/workspace';
import { UsageError } from '../errors';
import type { Io } from './task';

/** Validates steps, connectors and whenflow.yaml; lists every problem. Exit 2 when there is any. */
export async function workspaceCheck(opts: { workspace: string; json: boolean }, io: Io): Promise<void> {
  const ws = await openWorkspace(opts.workspace);
  if (opts.json) io.out(JSON.stringify({ workspace: ws.dir, steps: ws.catalog.steps.length, connectors: ws.connectors.names(), libraries: ws.libraries.names, problems: ws.problems }));
  if (ws.problems.length > 0) {
    throw new UsageError(new InvalidWorkspaceError(resolve(opts.workspace), ws.problems).message);
  }
  if (!opts.json) {
    const libraries = ws.libraries.names.length > 0 ? `, libraries: ${ws.libraries.names.join(', ')}` : '';
    io.out(`${pc.green('ok')}  ${ws.catalog.steps.length} steps, connectors: ${ws.connectors.names().join(', ')}${libraries}${ws.config.file ? `, configuration ${ws.config.file}` : ''}`);
  }
}

import pc from 'picocolors';
import { resolve } from 'node:path';
import { analyzeWorkspace, type Finding } from '../../analysis';
import { WorkspaceConfigError, openWorkspace } from '../../workspace/workspace';
import { UsageError } from '../errors';
import type { Io } from './task';

const KIND_LABEL: Record<Finding['kind'], string> = {
  'never-matches': 'never matches',
  shadowed: 'shadowed',
  'unknown-key': 'unknown key',
  'unwritten-key': 'key never written',
  'overlapping-writes': 'overlapping writes',
};

/**
 * Validates steps, connectors and whenflow.yaml; lists every problem (exit 2 when there is any), then the
 * catalog's findings (warnings: never-matching conditions, shadowed steps, unknown keys, overlapping writes).
 */
export async function workspaceCheck(opts: { workspace: string; json: boolean }, io: Io): Promise<void> {
  const ws = await openWorkspace(opts.workspace);
  const findings = ws.problems.length > 0 ? [] : await analyzeWorkspace(ws);
  if (opts.json)
    io.out(
      JSON.stringify({
        workspace: ws.dir,
        steps: ws.catalog.steps.length,
        connectors: ws.connectors.names(),
        libraries: ws.libraries.names,
        problems: ws.problems,
        findings,
      }),
    );
  if (ws.problems.length > 0) {
    throw new UsageError(new WorkspaceConfigError(resolve(opts.workspace), ws.problems).message);
  }
  if (!opts.json) {
    const libraries = ws.libraries.names.length > 0 ? `, libraries: ${ws.libraries.names.join(', ')}` : '';
    io.out(
      `${pc.green('ok')}  ${ws.catalog.steps.length} steps, connectors: ${ws.connectors.names().join(', ')}${libraries}${ws.config.file ? `, configuration ${ws.config.file}` : ''}`,
    );
    for (const finding of findings) io.out(`${pc.yellow('warning')}  ${KIND_LABEL[finding.kind]}: ${finding.message}`);
    if (findings.length > 0) io.out(pc.dim(`${findings.length} warning${findings.length === 1 ? '' : 's'}`));
  }
}

import { join, resolve } from 'node:path';
import { loadStepFile, WorkspaceError, type LoadedStep } from './load';

/**
 * The code of one step as it is on disk now (not as it was when the task started): that is what lets
 * a user fix a failing step and resume the task.
 */
export async function currentStep(workspace: string, name: string, file: string): Promise<LoadedStep> {
  const loaded = await loadStepFile(workspace, join(resolve(workspace), file)).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new Error(`step file ${file} of step "${name}" no longer exists in ${workspace}`) : error;
  });
  if (!loaded.step) throw new WorkspaceError(loaded.problems);
  return loaded.step;
}

import { join, resolve } from 'node:path';
import { fileStamp } from './file-stamps';
import { loadStepFile, StepFileError, type LoadedStep } from './step-files';

/** Steps loaded by this process, by file, with the stamp their file had when it was read. */
const byStamp = new Map<string, { stamp: string; step: LoadedStep }>();

/**
 * The code of one step as it is on disk now (not as it was when the task started): that is what lets
 * a user fix a failing step and resume the task. A file whose stamp has not changed since it was last
 * read is not read again (see fileStamp); any change, however small, is read and loaded.
 */
export async function currentStep(workspace: string, name: string, file: string): Promise<LoadedStep> {
  const path = join(resolve(workspace), file);
  // Taken before reading: should the file change while it is read, the next stamp differs.
  const stamp = await fileStamp(path);
  const known = byStamp.get(path);
  if (stamp !== null && stamp !== 'missing' && known?.stamp === stamp) return known.step;
  const loaded = await loadStepFile(workspace, path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new Error(`step file ${file} of step "${name}" no longer exists in ${workspace}`) : error;
  });
  if (!loaded.step) {
    byStamp.delete(path);
    throw new StepFileError(loaded.problems);
  }
  if (stamp !== null && stamp !== 'missing') byStamp.set(path, { stamp, step: loaded.step });
  else byStamp.delete(path);
  return loaded.step;
}

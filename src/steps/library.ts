import { join, resolve } from 'node:path';
import { fileStamp, loadStepFile, WorkspaceError, type LoadedStep } from './load';

/**
 * The step code a worker runs, re-imported only when a file changed on disk. Running the current file
 * (not the one a task started with) is what lets a user fix a failing step and resume the task.
 */
export class StepLibrary {
  private readonly cache = new Map<string, { stamp: string; step: LoadedStep }>();

  constructor(readonly workspace: string) {}

  async get(name: string, file: string): Promise<LoadedStep> {
    const path = join(resolve(this.workspace), file);
    const stamp = await fileStamp(path).catch(() => {
      throw new Error(`step file ${file} of step "${name}" no longer exists in ${this.workspace}`);
    });
    const cached = this.cache.get(path);
    if (cached?.stamp === stamp) return cached.step;
    const loaded = await loadStepFile(this.workspace, path);
    if (!loaded.step) throw new WorkspaceError(loaded.problems);
    this.cache.set(path, { stamp, step: loaded.step });
    return loaded.step;
  }
}

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadWorkspaceConfig } from '../../src/workspace/config';

/**
 * Fresh workspace folders (each with `steps/`) under one temporary folder that the test file removes
 * when it ends. Call at the top level of a test file.
 */
export function scratchWorkspaces(prefix: string) {
  let scratch = '';
  let counter = 0;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), `whenflow-${prefix}-`));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** A new workspace folder holding the given files (name → text). */
  async function workspace(files: Record<string, string> = {}): Promise<string> {
    const dir = join(scratch, `ws${counter++}`);
    await mkdir(join(dir, 'steps'), { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    return dir;
  }

  /** The configuration of a new workspace whose config file (`whenflow.yaml` unless named) holds `yaml`. */
  async function load(yaml: string, env: NodeJS.ProcessEnv = {}, name = 'whenflow.yaml') {
    const dir = await workspace({ [name]: yaml });
    return { dir, ...(await loadWorkspaceConfig(dir, env)) };
  }

  return { workspace, load };
}

import { constants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { UsageError } from '../errors';
import type { Io } from './task';

/**
 * The files of a new workspace: one step (TypeScript, to show the step globals' types), its
 * configuration, a scenario test, a sample task and a tsconfig.json that types `.ts` steps.
 */
export function workspaceTemplate(name: string): Record<string, string> {
  return {
    'whenflow.yaml': `# Workspace configuration (docs/configuration.md). The task queue is named after \`name\`.
name: ${JSON.stringify(name)}
defaults:
  timeout: 30s
  retry: { maximumAttempts: 3 }
`,
    'steps/greet.ts': `/**
 * A step runs when its condition matches the task data; its content changes the data.
 * This one greets once, then completes the task.
 */
export const condition = { person: { name: String }, greeting: { $exists: false } };

export const content = async () => {
  data.greeting = \`Hello, \${data.person.name}!\`;
  console.log(data.greeting);
  task.complete({ greeting: data.greeting });
};
`,
    'samples/hello.json': `${JSON.stringify({ person: { name: 'Ada' } }, null, 2)}\n`,
    'scenarios/greet.yaml': `name: a person is greeted and the task is done
dataFile: ../samples/hello.json
expectedSteps: [greet]
expectedState: done
validateFinalState:
  greeting: Hello, Ada!
`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2022', 'DOM'],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          // data, task, step, connectors, audit, lib and blob, as step content sees them.
          types: ['whenflow/step'],
        },
        include: ['steps', 'libraries', 'connectors'],
      },
      null,
      2,
    )}\n`,
    '.gitignore': '# Local blobs and run state of `whenflow run`\n.whenflow/\n',
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** `whenflow init [DIR]`: writes a new workspace, or nothing at all when any of its files exists already. */
export async function initCommand(dir: string | undefined, io: Io): Promise<void> {
  const target = resolve(dir ?? '.');
  const files = workspaceTemplate(basename(target));
  const present: string[] = [];
  for (const file of Object.keys(files)) if (await exists(join(target, file))) present.push(join(target, file));
  if (present.length > 0) {
    throw new UsageError(
      `init: ${present.join(', ')} ${present.length === 1 ? 'exists' : 'exist'} already; nothing was written (init never overwrites a file)`,
    );
  }
  for (const [file, text] of Object.entries(files)) {
    const path = join(target, file);
    await mkdir(join(path, '..'), { recursive: true });
    // 'wx' fails rather than overwrite a file that appeared since the check.
    await writeFile(path, text, { flag: 'wx' });
  }
  const shown = relative(process.cwd(), target) || '.';
  io.out(`Created a whenflow workspace in ${shown}: ${Object.keys(files).join(', ')}`);
  io.out('Next:');
  io.out(`  whenflow run -w ${shown} -f ${join(shown, 'samples/hello.json')}`);
  io.out(`  whenflow test -w ${shown}`);
}

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The types of the step globals (`whenflow/step`, src/step.ts) agree with the step API: every example
 * of the table in docs/step-api.md type-checks as step content, and misuse is reported.
 */
const root = join(import.meta.dirname, '..', '..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whenflow-step-types-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function documentedExamples(): Promise<string[]> {
  const page = await readFile(join(root, 'docs', 'step-api.md'), 'utf8');
  const table = page.slice(page.indexOf('<!-- step-api:start -->'), page.indexOf('<!-- step-api:end -->'));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---') && !line.startsWith('| global'))
    .map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)[2]!
        .trim()
        .replace(/^`|`$/g, '')
        .replace(/\\\|/g, '|'),
    );
}

/** Type errors of a step file using the globals of src/step.ts, as a workspace's tsconfig.json sets them up. */
async function typeErrors(name: string, stepSource: string): Promise<string[]> {
  const file = join(dir, name);
  await writeFile(file, stepSource);
  const program = ts.createProgram([join(root, 'src', 'step.ts'), file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? `${d.file.fileName.slice(dir.length + 1)}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('the step globals types (whenflow/step)', () => {
  it('accept every example of the step API table as step content', async () => {
    const examples = await documentedExamples();
    expect(examples.length).toBeGreaterThan(15);
    const body = examples.map((example, i) => `  // ${i + 1}\n  { ${example} }`).join('\n');
    const errors = await typeErrors('documented.ts', `export const condition = {};\nexport const content = async () => {\n${body}\n};\n`);
    expect(errors).toEqual([]);
  });

  it('report misuse of the globals', async () => {
    const errors = await typeErrors(
      'misuse.ts',
      `export const content = async () => {\n  task.park(true);\n  step.attempt = 2;\n  task.subtask('x', 'not data');\n  connectors.fetch({ href: 'http://x' });\n};\n`,
    );
    expect(errors).toEqual([
      expect.stringContaining("Argument of type 'boolean' is not assignable to parameter of type 'StepDuration'"),
      expect.stringContaining("Cannot assign to 'attempt' because it is a read-only property"),
      expect.stringContaining("Argument of type 'string' is not assignable to parameter of type 'Record<string, unknown>'"),
      expect.stringContaining("'href' does not exist"),
    ]);
  });
});

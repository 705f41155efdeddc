import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep } from '../../src/testing';

/**
 * The step API table of docs/step-api.md: every global a step can use, each with an example. The examples
 * run here exactly as the page shows them, one after another in one step, on a workspace that has
 * what they name (a library, a connector, a config value, an HTTP endpoint).
 */
const root = join(import.meta.dirname, '..', '..');

interface Row {
  global: string;
  example: string;
}

async function readmeRows(): Promise<Row[]> {
  const readme = await readFile(join(root, 'docs', 'step-api.md'), 'utf8');
  const start = readme.indexOf('<!-- step-api:start -->');
  const end = readme.indexOf('<!-- step-api:end -->');
  expect(start).toBeGreaterThan(0);
  const lines = readme
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---') && !line.startsWith('| global'));
  return lines.map((line) => {
    const cells = line.slice(2, -2).split(/(?<!\\) \| /);
    expect(cells).toHaveLength(3);
    const code = (cell: string) => cell.trim().replace(/^`|`$/g, '');
    return { global: cells[0]!, example: code(cells[2]!) };
  });
}

let dir: string;
let server: Server;
let hookUrl: string;
const posted: { method: string; body: string }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'whenflow-readme-api-'));
  await mkdir(join(dir, 'steps'));
  await mkdir(join(dir, 'libraries'));
  await mkdir(join(dir, 'connectors'));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await writeFile(join(dir, 'whenflow.yaml'), 'config:\n  CHANNEL: "#ops"\n');
  await writeFile(
    join(dir, 'libraries', 'validationUtils.js'),
    'declare function validateEmail(email: string): boolean;\nconst validateEmail = (email) => email.includes("@");\nmodule.exports = { validateEmail };\n',
  );
  await writeFile(join(dir, 'connectors', 'crm.mjs'), 'export async function find({ email }) { return { id: 7, email }; }\n');
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      posted.push({ method: req.method ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('the step API table of docs/step-api.md', () => {
  it('lists every global a step can use', async () => {
    const globals = (await readmeRows()).map((row) => row.global).join(' ');
    for (const name of ['data', 'task.', 'step.', 'connectors.', 'audit.', 'lib.', 'blob.', 'console.', 'data.$stash', 'task.id']) {
      expect(globals).toContain(`\`${name}`);
    }
  });

  it('runs every example as written', async () => {
    const rows = await readmeRows();
    const body = rows.map((row) => `  {\n    ${row.example}\n  }`).join('\n');
    await writeFile(
      join(dir, 'steps', 'readme.mjs'),
      `export const condition = { order: Object };\nexport const content = async () => {\n${body}\n};\n`,
    );
    const data = { order: { id: 'A-1', items: [{ sku: 'A-1', qty: 2 }] }, draft: true, customer: { email: 'ada@example.com' }, hookUrl };
    const result = await runStep(join(dir, 'steps', 'readme.mjs'), data, { workspace: dir, taskId: 'task-readme' });

    expect(result.data).toMatchObject({
      order: { status: 'paid' },
      channel: '#ops',
      parentTaskId: 'task-readme',
      sameId: 'task-readme',
      contact: { id: 7, email: 'ada@example.com' },
      sent: true,
      validEmail: true,
      invoice: { blobId: expect.stringMatching(/^sha256-/), contentType: 'text/html', name: 'invoice.html', size: 16 },
      invoiceTitle: 'Invoice',
      invoiceBytes: 16,
      $stash: { apiKey: 'sk-test-123' },
      ranAs: 'readme #1',
      cancelled: false,
    });
    expect(result.data).not.toHaveProperty('draft');
    expect(posted).toEqual([{ method: 'POST', body: JSON.stringify({ id: 'A-1', items: [{ sku: 'A-1', qty: 2 }], status: 'paid' }) }]);
    expect(result.commands.map((c) => c.type)).toEqual([
      'complete',
      'ignore',
      'park',
      'subtask',
      'name',
      'tags',
      'timeout',
      'completeOnExpire',
      'redo',
    ]);
    expect(result.logs.map((l) => l.level)).toEqual(['visual', 'audit', 'log']);
    expect(result.logs.at(-1)!.message).toBe('charged A-1');
  });
});

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumeTask, waitForTask } from '../../src/client';
import { whenflow } from '../support/cli';
import { startHarness, type TestHarness } from '../support/temporal';

/**
 * A workspace written as hosted workspaces write theirs: a library in `module.exports` style with
 * `declare function` lines, another as a TypeScript module, blobs created and read without `await`,
 * `connectors.fetch({ url, options })`, `connectors.utils.sleep({ milliseconds })`, `task.id` as a value
 * and `data.$stash.x` on data without `$stash`.
 */
const STASH_KEY = randomBytes(32).toString('base64');
const MARKER = 'UNIQUE-BLOB-MARKER-4d7e1c';

const files: Record<string, string> = {
  'package.json': '{ "type": "module" }\n',
  'whenflow.yaml': `secrets:\n  key: ${STASH_KEY}\n`,
  'libraries/validationUtils.js': [
    '/**',
    ' * Customer data validation',
    ' **/',
    'declare function validateEmail(email: string): boolean;',
    '',
    'const validateEmail = (email) => {',
    "  if (!email || typeof email !== 'string') return false;",
    '  return /^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$/.test(email.trim().toLowerCase());',
    '};',
    '',
    'module.exports = { validateEmail };',
    '',
  ].join('\n'),
  'libraries/format.ts': 'export const label = (name: string): string => `customer ${name.toUpperCase()}`;\nexport const version = 1;\n',
  'steps/validate.mjs': [
    'export const condition = { customer: { email: String }, validated: null };',
    'export const content = async () => {',
    '  data.validated = lib.validationUtils.validateEmail(data.customer.email);',
    '  data.label = lib.format.label(data.customer.name);',
    '  data.libVersion = lib.format.version;',
    '  data.parentTaskId = task.id;',
    '  data.idFromCall = task.id();',
    '  data.idInText = `task ${task.id}`;',
    '};',
    '',
  ].join('\n'),
  'steps/store_report.mjs': [
    'export const condition = { validated: true, report: null };',
    'export const content = async () => {',
    `  data.report = blob.create({ content: { marker: '${MARKER}', email: data.customer.email } });`,
    "  data.attachment = blob.create({ content: Buffer.from([0, 1, 2, 255]), name: 'raw.bin' });",
    '};',
    '',
  ].join('\n'),
  'steps/read_report.mjs': [
    'export const condition = { report: { blobId: String }, reportRead: null };',
    'export const content = async () => {',
    '  const report = JSON.parse(blob.getContent(data.report));',
    '  const bytes = blob.getContent(data.attachment);',
    '  const chunks = [];',
    '  for await (const chunk of await blob.stream(data.report)) chunks.push(chunk);',
    '  data.reportRead = { sameEmail: report.email === data.customer.email, markerLength: report.marker.length, bytes: [...bytes], streamed: Buffer.concat(chunks).length };',
    '};',
    '',
  ].join('\n'),
  'steps/notify.mjs': [
    'export const condition = { reportRead: Object, notified: null };',
    'export const content = async () => {',
    '  const response = await connectors.fetch({',
    '    url: data.notifyUrl,',
    "    options: { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Task': String(task.id) }, body: JSON.stringify({ label: data.label }) },",
    '  });',
    '  await connectors.utils.sleep({ milliseconds: 20 });',
    '  data.notified = { status: response.status, ok: response.ok, statusText: response.statusText, body: response.body };',
    '};',
    '',
  ].join('\n'),
  'steps/keep_secret.mjs': [
    'export const condition = { notified: { ok: true }, done: null };',
    'export const content = async () => {',
    "  data.$stash.apiKey = 'stash-key-no-' + data.notified.body.id;",
    '  data.done = true;',
    '  task.complete({ parentTaskId: task.id });',
    '};',
    '',
  ].join('\n'),
};

function writeWorkspace(dir: string, entries: Record<string, string>): void {
  for (const [name, text] of Object.entries(entries)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

/** Every payload byte of a task's history, decoded as text: what Temporal keeps of the task. */
async function historyText(client: Client, taskId: string): Promise<string> {
  const history = await client.workflow.getHandle(taskId).fetchHistory();
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
    else if (typeof value === 'string') parts.push(value);
  };
  walk(history);
  return parts.join('\n');
}

let workspace: string;
let harness: TestHarness;
let receiver: Server;
let receiverUrl: string;
const received: { method: string; headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'whenflow-step-api-'));
  writeWorkspace(workspace, files);
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', headers: req.headers, body });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: received.length }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
  harness = await startHarness(workspace);
});

afterAll(async () => {
  await harness?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  rmSync(workspace, { recursive: true, force: true });
});

describe('the step API of hosted workspaces, on a real Temporal server', () => {
  it('runs a workspace that uses lib, blob, connectors.fetch({ url, options }), utils.sleep({ milliseconds }), task.id and $stash', async () => {
    const task = await harness.runTask({
      name: 'customer',
      data: { customer: { name: 'ada', email: 'Ada@Example.com' }, notifyUrl: receiverUrl },
    });
    expect(task.error).toBeNull();
    expect(task.state).toBe('done');
    expect(task.trace.map((t) => t.step)).toEqual(['validate', 'store_report', 'read_report', 'notify', 'keep_secret']);
    const data = task.data as Record<string, unknown>;

    // lib: a module.exports library with TypeScript declarations, and a TypeScript module.
    expect(data.validated).toBe(true);
    expect(data.label).toBe('customer ADA');
    expect(data.libVersion).toBe(1);

    // task.id as a string, as a call, and in a template literal.
    expect(data.parentTaskId).toBe(task.taskId);
    expect(data.idFromCall).toBe(task.taskId);
    expect(data.idInText).toBe(`task ${task.taskId}`);
    expect(task.result).toEqual({ parentTaskId: task.taskId });

    // blob: small references in the data, the content in the workspace's store, never in history.
    const report = data.report as { blobId: string; size: number; contentType: string };
    expect(report).toEqual({
      blobId: expect.stringMatching(/^sha256-[0-9a-f]{64}$/),
      size: expect.any(Number),
      contentType: 'application/json',
    });
    expect(data.attachment).toMatchObject({ contentType: 'application/octet-stream', size: 4, name: 'raw.bin' });
    expect(data.reportRead).toEqual({ sameEmail: true, markerLength: MARKER.length, bytes: [0, 1, 2, 255], streamed: report.size });
    const stored = join(workspace, '.whenflow', 'blobs', report.blobId.slice(7, 9), report.blobId);
    expect(JSON.parse(readFileSync(stored, 'utf8'))).toEqual({ marker: MARKER, email: 'Ada@Example.com' });
    expect(readdirSync(dirname(stored)).filter((name) => name.endsWith('.partial'))).toEqual([]);
    const history = await historyText(harness.client, task.taskId);
    expect(history).toContain(report.blobId);
    expect(history).not.toContain(MARKER);

    // connectors.fetch({ url, options }) reached the local server with the method, headers and body given.
    expect(received).toHaveLength(1);
    expect(received[0]!.method).toBe('POST');
    expect(received[0]!.headers['content-type']).toBe('application/json');
    expect(received[0]!.headers['x-task']).toBe(task.taskId);
    expect(JSON.parse(received[0]!.body)).toEqual({ label: 'customer ADA' });
    expect(data.notified).toEqual({ status: 201, ok: true, statusText: 'Created', body: { id: 1 } });

    // data.$stash.apiKey on data without $stash: created, and sealed in what Temporal holds.
    const stash = data.$stash as Record<string, unknown>;
    expect(String(stash.apiKey)).toMatch(/^whenflow:sealed:v2:string:/);
    // A value no ID or payload of the history holds by chance (a task ID may well contain "k-1").
    expect(history).not.toContain('stash-key-no-1');
  });

  it('a changed library takes effect for the next task, and a resumed task runs the fixed library', async () => {
    writeWorkspace(workspace, {
      'libraries/format.ts': 'export const label = (name: string): string => `client ${name}`;\nexport const version = 2;\n',
    });
    const changed = await harness.runTask({
      name: 'customer',
      data: { customer: { name: 'bo', email: 'bo@example.com' }, notifyUrl: receiverUrl },
    });
    expect(changed.state).toBe('done');
    expect(changed.data.label).toBe('client bo');
    expect(changed.data.libVersion).toBe(2);

    // A library that throws while it loads: the step that reads it fails for good, naming the file and line.
    writeWorkspace(workspace, { 'libraries/format.ts': "export const version = 3;\nthrow new Error('format library is broken');\n" });
    const broken = await harness.runTask({
      name: 'customer',
      data: { customer: { name: 'cy', email: 'cy@example.com' }, notifyUrl: receiverUrl },
    });
    // The catalog of a workspace with a broken library is refused, as for a broken step file.
    expect(broken.state).toBe('error');
    expect(broken.error?.message).toContain('libraries/format.ts: cannot load: format library is broken at line 2');

    writeWorkspace(workspace, {
      'libraries/format.ts': 'export const label = (name: string): string => `fixed ${name}`;\nexport const version = 4;\n',
    });
    await resumeTask(harness.client, broken.taskId);
    const resumed = await waitForTask(harness.client, broken.taskId, { timeoutMs: 60_000 });
    expect(resumed.state).toBe('done');
    expect(resumed.data.label).toBe('fixed cy');
    expect(existsSync(join(workspace, '.whenflow', 'blobs'))).toBe(true);
  });

  it('whenflow workspace check lists the libraries, and every library problem with its file, line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whenflow-check-libraries-'));
    try {
      writeWorkspace(dir, {
        'steps/noop.mjs': 'export const condition = { x: 1 };\nexport const content = async () => {};\n',
        'libraries/good.js': 'export const ok = true;\n',
      });
      const ok = await whenflow(['workspace', 'check', '-w', dir]);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain('libraries: good');
      writeWorkspace(dir, { 'libraries/broken.ts': 'export const a = 1;\nexport const b = {;\n' });
      const broken = await whenflow(['workspace', 'check', '-w', dir]);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/libraries\/broken\.ts: cannot load: .* at line 2, column 19/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

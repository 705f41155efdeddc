import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStepBlobs } from '../../src/blobs/api';
import { parseBlobSettings } from '../../src/blobs/config';
import { blobIdOf, FilesystemBlobStore } from '../../src/blobs/store';
import { ConnectorRegistry, createConnectorsProxy } from '../../src/connectors';
import { ConnectorError, type ConnectorContext } from '../../src/connectors/types';
import { executeStep } from '../../src/runtime/execute';
import { taskIdValue } from '../../src/runtime/task-id';
import { toJson } from '../../src/runtime/to-json';
import { jsonArgs } from '../../src/connectors/registry';
import { loadLibraries } from '../../src/steps/libraries';
import { ensureLocalStashKey } from '../../src/workspace/local-key';
import { loadWorkspaceConfig } from '../../src/workspace/config';
import { openWorkspace } from '../../src/workspace/workspace';

let scratch: string;
let n = 0;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'whenflow-hosted-api-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function workspace(files: Record<string, string>): Promise<string> {
  const dir = join(scratch, `ws${n++}`);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  await mkdir(join(dir, 'steps'), { recursive: true });
  return dir;
}

describe('libraries', () => {
  it('loads module.exports libraries with TypeScript declarations, ES modules, .ts files, and libraries importing each other', async () => {
    const dir = await workspace({
      'libraries/validationUtils.js':
        'declare function isEmail(s: string): boolean;\nconst isEmail = (s) => s.includes("@");\nmodule.exports = { isEmail };\n',
      'libraries/money.mjs': "import { round } from './math.ts';\nexport const euros = (cents) => `€${round(cents / 100)}`;\n",
      'libraries/math.ts': 'export function round(n: number): number { return Math.round(n * 100) / 100; }\n',
      'libraries/defaults.js': 'export default { greeting: "hi" };\n',
    });
    const { lib, names, problems } = await loadLibraries(dir);
    expect(problems).toEqual([]);
    expect(names).toEqual(['defaults', 'math', 'money', 'validationUtils']);
    const l = lib as Record<string, Record<string, (...args: unknown[]) => unknown>>;
    expect(l.validationUtils!.isEmail!('a@b')).toBe(true);
    expect(l.money!.euros!(1234)).toBe('€12.34');
    expect(l.defaults!.greeting).toBe('hi');

    // An edit to a library another one imports is seen by the next load.
    await writeFile(join(dir, 'libraries', 'math.ts'), 'export function round(n: number): number { return Math.floor(n); }\n');
    const again = (await loadLibraries(dir)).lib as Record<string, Record<string, (...args: unknown[]) => unknown>>;
    expect(again.money!.euros!(1299)).toBe('€12');
    expect(lib).not.toBe(again);
    expect((await loadLibraries(dir)).lib).toBe(again);
  });

  it('reports a syntax error and an error thrown while loading with the file, line and column; the other libraries still load', async () => {
    const dir = await workspace({
      'libraries/ok.js': 'export const yes = true;\n',
      'libraries/syntax.js': 'export const a = 1;\nexport const b = ;\n',
      'libraries/throws.ts': "export const a = 1;\n\nthrow new Error('no config');\n",
      'libraries/reads_data.js': 'export const copy = data.x;\n',
      'libraries/bad-name.js': 'export const x = 1;\n',
    });
    const { lib, problems } = await loadLibraries(dir);
    const byFile = new Map(problems.map((p) => [p.file, p.message]));
    expect(byFile.get('libraries/syntax.js')).toBe('cannot load: syntax error: Unexpected ";" at line 2, column 18 — export const b = ;');
    expect(byFile.get('libraries/throws.ts')).toBe("cannot load: no config at line 3, column 7 — throw new Error('no config');");
    expect(byFile.get('libraries/reads_data.js')).toMatch(/`data` is only available while a step's content runs.* at line 1, column \d+/);
    expect(byFile.get('libraries/bad-name.js')).toMatch(/cannot be written as lib\.bad-name/);
    expect((lib as { ok: { yes: boolean } }).ok.yes).toBe(true);
    expect(() => (lib as Record<string, unknown>).throws).toThrow(/libraries\/throws\.ts: cannot load: no config/);

    // `workspace check` lists them (kind library), with the step problems.
    const ws = await openWorkspace(dir);
    expect(
      ws.problems
        .filter((p) => p.kind === 'library')
        .map((p) => p.file)
        .sort(),
    ).toEqual(['libraries/bad-name.js', 'libraries/reads_data.js', 'libraries/syntax.js', 'libraries/throws.ts']);
  });

  it('a workspace without libraries/ has an empty lib', async () => {
    expect(await loadLibraries(await workspace({}))).toMatchObject({ names: [], problems: [] });
  });
});

describe('blobs', () => {
  it('the filesystem store is content-addressed, writes atomically and reads back what it stored', async () => {
    const dir = join(scratch, 'blobs-fs');
    const store = new FilesystemBlobStore(dir);
    const content = Buffer.from('hello');
    const id = blobIdOf(content);
    await Promise.all([store.put(id, content), store.put(id, content), store.put(id, content)]);
    expect((await store.get(id))?.toString()).toBe('hello');
    expect(await readdir(join(dir, id.slice(7, 9)))).toEqual([id]);
    expect(await store.get(blobIdOf(Buffer.from('other')))).toBeNull();
    // Damaged content is never handed out.
    await writeFile(join(dir, id.slice(7, 9), id), 'tampered');
    await expect(store.get(id)).rejects.toThrow(`blob ${id} in filesystem ${dir} is damaged`);
  });

  it('blob.create works without await, the step waits for the write, and getContent returns text, JSON text or bytes', async () => {
    const dir = join(scratch, 'ws-blob-api');
    const { settings } = parseBlobSettings(null, dir);
    const blobs = await openStepBlobs(settings, {});
    const text = blobs.api.create({ content: 'plain text' });
    const json = blobs.api.create({ content: { a: 1 }, name: 'a.json' });
    const bytes = blobs.api.create({ content: new Uint8Array([1, 2, 3]) });
    await blobs.settled();
    expect(text).toEqual({ blobId: blobIdOf(Buffer.from('plain text')), size: 10, contentType: 'text/plain; charset=utf-8' });
    expect(json).toMatchObject({ contentType: 'application/json', name: 'a.json' });
    const later = await openStepBlobs(settings, {});
    expect(later.api.getContent(text)).toBe('plain text');
    expect(later.api.getContent(text.blobId)).toBe('plain text');
    expect(JSON.parse(later.api.getContent(json) as string)).toEqual({ a: 1 });
    expect([...(later.api.getContent(bytes) as Buffer)]).toEqual([1, 2, 3]);
    expect((await stat(join(dir, '.whenflow', 'blobs'))).isDirectory()).toBe(true);
    const missing = blobIdOf(Buffer.from('missing'));
    expect(() => later.api.getContent(missing)).toThrow(`blob ${missing} does not exist in filesystem`);
    expect(() => later.api.getContent({ id: 1 } as never)).toThrow(/takes what blob\.create\(\) returned/);
  });

  it('validates blobs: in whenflow.yaml, each problem at its path', () => {
    expect(parseBlobSettings({ store: 's3' }, '/ws').problems).toEqual([
      { path: 'blobs.s3', message: 'store "s3" needs an s3: section with at least a bucket' },
    ]);
    expect(
      parseBlobSettings({ store: 'disk', maxBytes: 0, extra: 1 }, '/ws')
        .problems.map((p) => p.path)
        .sort(),
    ).toEqual(['blobs.extra', 'blobs.maxBytes', 'blobs.store']);
    expect(parseBlobSettings({ store: 's3', s3: { bucket: 'b', accessKeyId: 'x' } }, '/ws').problems).toEqual([
      { path: 'blobs.s3.secretAccessKey', message: 'give both accessKeyId and secretAccessKey, or neither (the AWS credential chain)' },
    ]);
    expect(parseBlobSettings({ maxBytes: 10 }, '/ws')).toMatchObject({ problems: [], settings: { maxBytes: 10 } });
  });
});

describe('built-in connectors in the hosted product’s forms', () => {
  let server: Server;
  let url: string;
  const seen: { method: string; headers: Record<string, unknown>; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', headers: req.headers, body });
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"nope"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const context = (): ConnectorContext => ({
    taskId: 't',
    step: 's',
    attempt: 1,
    idempotencyKey: 'k',
    signal: new AbortController().signal,
    options: {},
  });
  const connectors = () =>
    createConnectorsProxy(new ConnectorRegistry(), context, () => undefined) as unknown as Record<
      string,
      ((args?: unknown) => Promise<unknown>) & Record<string, (args?: unknown) => Promise<unknown>>
    >;

  it('connectors.fetch({ url, options }) sends method, headers and body; the answer has status, statusText, ok, headers, body', async () => {
    const result = await connectors().fetch!({ url, options: { method: 'put', headers: { 'X-A': '1' }, body: 'payload' } });
    expect(result).toMatchObject({ status: 404, statusText: 'Not Found', ok: false, body: { error: 'nope' } });
    expect(seen.at(-1)).toMatchObject({ method: 'PUT', headers: { 'x-a': '1' }, body: 'payload' });
    await connectors().fetch!({ url });
    expect(seen.at(-1)!.method).toBe('GET');
    await expect(connectors().fetch!({ url, options: { mode: 'cors' } })).rejects.toThrow(
      'connectors.fetch.fetch: unknown argument `options.mode`',
    );
  });

  it('a connector without a function form says how to call it', () => {
    expect(() => connectors().utils!({ ms: 1 })).toThrow(ConnectorError);
    expect(() => connectors().utils!({ ms: 1 })).toThrow(
      /connectors\.utils is not a function: call one of its methods, e\.g\. connectors\.utils\.now\(args\)/,
    );
  });

  it('connectors.utils.sleep takes { milliseconds } or { ms }, not both', async () => {
    const started = Date.now();
    await expect(connectors().utils!.sleep!({ milliseconds: 30 })).resolves.toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    await expect(connectors().utils!.sleep!({ ms: 1 })).resolves.toBeNull();
    await expect(connectors().utils!.sleep!({ ms: 1, milliseconds: 1 })).rejects.toThrow(/once: \{ ms \} or \{ milliseconds \}/);
  });
});

describe('task.id and $stash in step content', () => {
  it('task.id is the ID as a value (data, subtask data, connector arguments, text) and still a function', () => {
    const id = taskIdValue('task-42');
    expect(id()).toBe('task-42');
    expect(`${id}`).toBe('task-42');
    expect(JSON.stringify({ id })).toBe('{"id":"task-42"}');
    expect(toJson({ parentTaskId: id }, { step: 's' })).toEqual({ parentTaskId: 'task-42' });
    expect(jsonArgs({ parent: id }, 'c', 'm')).toEqual({ parent: 'task-42' });
  });

  it('writing data.$stash.x creates $stash; reading it alone leaves no trace', async () => {
    const run = (content: () => unknown) =>
      executeStep({ step: 's', taskId: 't', attempt: 1, data: { a: 1 }, content, stash: { key: Buffer.alloc(32, 7) } });
    const g = globalThis as unknown as { data: Record<string, Record<string, unknown>> };
    const written = await run(() => {
      g.data.$stash!.apiKey = 'secret';
    });
    expect(written.patch.map((p) => p.path)).toEqual(['/$stash']);
    const read = await run(() => {
      const keys = Object.keys(g.data);
      g.data.seen = { hasKey: g.data.$stash!.apiKey !== undefined, keys } as never;
    });
    expect(read.patch).toEqual([{ op: 'add', path: '/seen', value: { hasKey: false, keys: ['a'] } }]);
  });
});

describe('the local stash key', () => {
  it('is made once, owner-only, in a git-ignored .whenflow/, and used when whenflow.yaml sets no key', async () => {
    const dir = await workspace({});
    expect((await loadWorkspaceConfig(dir, {})).config.stashKey).toBeNull();
    const made = await ensureLocalStashKey(dir);
    expect(made.created).toBe(true);
    expect((await stat(made.path)).mode & 0o777).toBe(0o600);
    expect((await ensureLocalStashKey(dir)).created).toBe(false);
    const { config, problems } = await loadWorkspaceConfig(dir, {});
    expect(problems).toEqual([]);
    expect(config.stashKey).toHaveLength(32);

    const configured = Buffer.alloc(32, 1).toString('base64');
    await writeFile(join(dir, 'whenflow.yaml'), `secrets:\n  key: ${configured}\n`);
    expect((await loadWorkspaceConfig(dir, {})).config.stashKey?.toString('base64')).toBe(configured);

    await rm(join(dir, 'whenflow.yaml'));
    await writeFile(made.path, 'not a key');
    expect((await loadWorkspaceConfig(dir, {})).problems[0]).toMatchObject({
      file: '.whenflow/stash.key',
      message: expect.stringContaining('the stash key is not base64'),
    });
  });
});

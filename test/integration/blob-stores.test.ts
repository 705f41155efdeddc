import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../src/blobs/s3-store';
import { blobIdOf } from '../../src/blobs/store';
import { startHarness, type TestHarness } from '../support/temporal';

/**
 * Blobs in an S3-compatible bucket, as workers on several machines would share them: a real S3 protocol
 * server (s3rver) on 127.0.0.1, reached through the official AWS SDK client.
 */
const BUCKET = 'whenflow-blobs';
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let s3: S3rver;
let endpoint: string;
let s3Dir: string;
let workspace: string;
let harness: TestHarness;

beforeAll(async () => {
  s3Dir = mkdtempSync(join(tmpdir(), 'whenflow-s3rver-'));
  s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3Dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
  const { port } = await s3.run();
  endpoint = `http://127.0.0.1:${port}`;

  workspace = mkdtempSync(join(tmpdir(), 'whenflow-blob-s3-'));
  mkdirSync(join(workspace, 'steps'));
  writeFileSync(join(workspace, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(workspace, 'whenflow.yaml'),
    [
      'blobs:',
      '  store: s3',
      '  maxBytes: 4096',
      '  s3:',
      `    bucket: ${BUCKET}`,
      '    prefix: tasks/',
      `    endpoint: ${endpoint}`,
      `    accessKeyId: ${CREDENTIALS.accessKeyId}`,
      `    secretAccessKey: ${CREDENTIALS.secretAccessKey}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(workspace, 'steps', 'summarize.mjs'),
    [
      'export const condition = { doc: { blobId: String }, summary: null };',
      'export const content = async () => {',
      '  const text = blob.getContent(data.doc);',
      "  data.summary = blob.create({ content: text.toUpperCase(), contentType: 'text/plain' });",
      '  data.words = text.split(" ").length;',
      '};',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(workspace, 'steps', 'check.mjs'),
    [
      'export const condition = { summary: { blobId: String } };',
      'export const content = async () => { task.complete(blob.getContent(data.summary)); };',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(workspace, 'steps', 'too_big.mjs'),
    [
      'export const condition = { big: true };',
      "export const content = async () => { data.ref = blob.create({ content: 'x'.repeat(5000) }); };",
      '',
    ].join('\n'),
  );
  harness = await startHarness(workspace);
});

afterAll(async () => {
  await harness?.close();
  await s3?.close();
  rmSync(workspace, { recursive: true, force: true });
  rmSync(s3Dir, { recursive: true, force: true });
});

describe('blobs in an S3-compatible store, on a real Temporal server', () => {
  it('a step reads a blob another machine stored and stores one the next step reads, all through the bucket', async () => {
    // Stored by "another machine": a client of its own, not the worker's.
    const other = new S3BlobStore({
      bucket: BUCKET,
      prefix: 'tasks/',
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
    const text = 'the quick brown fox';
    const id = blobIdOf(Buffer.from(text));
    await other.put(id, Buffer.from(text));

    const task = await harness.runTask({ name: 'summary', data: { doc: { blobId: id, size: text.length, contentType: 'text/plain' } } });
    expect(task.error).toBeNull();
    expect(task.state).toBe('done');
    expect(task.result).toBe('THE QUICK BROWN FOX');
    expect(task.data.words).toBe(4);
    const summary = task.data.summary as { blobId: string };
    // The worker wrote it to the bucket, where every other worker finds it.
    expect((await other.get(summary.blobId))?.toString()).toBe('THE QUICK BROWN FOX');
    other.destroy();
  });

  it('a reference to a blob the store does not have fails the step for good, naming the blob', async () => {
    const missing = blobIdOf(Buffer.from('never stored'));
    const task = await harness.runTask({ name: 'summary', data: { doc: { blobId: missing, size: 12, contentType: 'text/plain' } } });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ step: 'summarize', attempts: 1 });
    expect(task.error?.message).toContain(`blob ${missing} does not exist in s3 ${BUCKET}/tasks/`);
  });

  it('content over blobs.maxBytes is refused, naming the size and the setting', async () => {
    const task = await harness.runTask({ name: 'big', data: { big: true } });
    expect(task.state).toBe('error');
    expect(task.error?.message).toContain('the content is 5000 bytes, over the limit of 4096 bytes (blobs.maxBytes in whenflow.yaml)');
  });
});

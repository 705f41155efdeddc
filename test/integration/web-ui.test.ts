/**
 * The Temporal Web UI, served by the dev server (`whenflow dev`), shows each task workflow's summary (its
 * name) and current details (state, cycle, last step, why it needs attention). Checked in a real
 * headless Chromium: the UI ships inside the Temporal CLI and renders without the network.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTask, waitForTask } from '../../src/client';
import { freePort } from '../../src/temporal/dev-server';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { startDevServer } from '../../src/temporal/server';
import { createTaskWorker } from '../../src/worker';

const CHROMIUM = process.env.WHENFLOW_CHROMIUM ?? '/usr/bin/chromium';
/** Every wait in this file ends: a page that never shows the text fails the test instead of hanging it. */
const WAIT_MS = 30_000;

/**
 * Headless Chromium with a profile of its own and no background connections (on a closed network
 * Chromium's own update, sync and QUIC connections are refused and can stall it).
 */
async function launchChromium(profile: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the Web UI check needs it. Install it with \`apt-get install chromium\` (npm test does on Linux), or set WHENFLOW_CHROMIUM to its path.`,
    );
  }
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args, timeout: WAIT_MS });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  return context;
}

/** The visible text of the page and of its frames (the UI renders markdown details in a frame of their own). */
async function allText(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((frame) => frame.evaluate<string>("document.body ? document.body.innerText : ''").catch(() => '')),
  );
  return texts.join('\n');
}

async function waitForText(page: Page, expected: readonly string[], what: string): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let text = '';
  while (Date.now() < deadline) {
    text = await allText(page);
    if (expected.every((part) => text.includes(part))) return text;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `the Web UI did not show ${what} within ${WAIT_MS} ms; missing: ${expected.filter((part) => !text.includes(part)).join(' | ')}\npage text:\n${text.slice(0, 3000)}`,
  );
}

describe('the Temporal Web UI', () => {
  it("shows a task's summary and its current details: state, cycle, last step and why it needs attention", async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'whenflow-webui-'));
    mkdirSync(join(workspace, 'steps'));
    writeFileSync(join(workspace, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(workspace, 'steps', 'greet.mjs'),
      'export const condition = { name: String, greeting: null };\nexport const content = async () => { data.greeting = `hello ${data.name}`; };\n',
    );
    installRuntime();
    const uiPort = await freePort();
    const session = await startDevServer({ ui: true, uiPort });
    const taskQueue = 'webui-check';
    const worker = await createTaskWorker({ connection: session.nativeConnection, namespace: session.namespace, workspace, taskQueue });
    const running = worker.run();
    const profile = mkdtempSync(join(tmpdir(), 'whenflow-chromium-'));
    let browser: BrowserContext | null = null;
    try {
      // After greet nothing matches: the task stays open in `attention`, so the UI asks the worker for its details.
      const handle = await startTask(session.client, { name: 'web ui check', data: { name: 'ada' }, taskQueue });
      const settled = await waitForTask(session.client, handle.workflowId, { timeoutMs: WAIT_MS });
      expect(settled.state).toBe('attention');

      browser = await launchChromium(profile);
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/${session.namespace}/workflows/${handle.workflowId}`, { timeout: WAIT_MS });
      await page.getByText('User Metadata', { exact: true }).first().click({ timeout: WAIT_MS });
      const text = await waitForText(
        page,
        [
          'whenflow task: web ui check',
          'web ui check: attention',
          'cycle 1, last step greet',
          'no step matches the data and nothing is pending',
        ],
        "the task's summary and details",
      );
      expect(text).toContain('Summary');
      expect(text).toContain('Current Details');
    } finally {
      await browser?.close();
      worker.shutdown();
      await running;
      await session.close();
      rmSync(workspace, { recursive: true, force: true });
      rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
    }
  }, 180_000);
});

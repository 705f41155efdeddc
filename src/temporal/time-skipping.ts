/**
 * Temporal's time-skipping test server (the Java `io.temporal:temporal-test-server`): timers of hours or
 * weeks fire at once when nothing else is going on, so parks and deadlines take no wall time in tests.
 *
 * Provisioned once with Maven (its classpath resolved from Maven Central) and cached next to the Temporal
 * CLI build; a small launcher script runs it with Java. The Temporal SDK's TestWorkflowEnvironment starts
 * that launcher as an existing executable (`<launcher> <port>`).
 */
import { spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { TASK_SEARCH_ATTRIBUTES } from '../model/search-attributes';
import { cacheDir, type Log } from './binary';
import { WhenflowError, brandError } from '../model/errors';

export const TEST_SERVER_ARTIFACT = 'io.temporal:temporal-test-server';
export const TEST_SERVER_VERSION = '1.31.0';
const MAIN_CLASS = 'io.temporal.testserver.TestServer';
/** Versioned with its contents: a launcher written by an older whenflow is replaced, not reused. */
const LAUNCHER_NAME = 'launcher-2';

export class TimeSkippingUnavailableError extends WhenflowError {
  static {
    brandError(TimeSkippingUnavailableError, 'TimeSkippingUnavailableError');
  }

  constructor(message: string) {
    super(message);
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Where the launcher of the cached test server lives. */
export function testServerLauncherPath(): string {
  return join(cacheDir(), `temporal-test-server-${TEST_SERVER_VERSION}`, LAUNCHER_NAME);
}

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>whenflow</groupId>
  <artifactId>time-skipping-test-server</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;

function run(command: string, args: string[], cwd: string, log: Log): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${tail}`)),
    );
    log(`whenflow: ${command} ${args.join(' ')}`);
  });
}

/**
 * The launcher of the time-skipping test server, provisioning it on first use (Maven resolves the
 * server and its dependencies into ~/.m2; the classpath and the launcher are cached). Throws a
 * TimeSkippingUnavailableError naming what to install when Java or Maven is missing.
 */
export async function provisionTestServer(log: Log = (line) => process.stderr.write(`${line}\n`)): Promise<string> {
  const launcher = testServerLauncherPath();
  const java = onPath('java');
  if (!java)
    throw new TimeSkippingUnavailableError(
      'the time-skipping test server needs Java (17 or later) on PATH; install it, e.g. `apt-get install default-jre-headless`, or run the scenarios without time skipping',
    );
  if (existsSync(launcher)) return launcher;
  const mvn = onPath('mvn');
  if (!mvn)
    throw new TimeSkippingUnavailableError(
      `the time-skipping test server is not provisioned yet, and provisioning it needs Maven on PATH (to fetch ${TEST_SERVER_ARTIFACT}:${TEST_SERVER_VERSION} from Maven Central); install it, e.g. \`apt-get install maven\``,
    );
  const dir = join(launcher, '..');
  mkdirSync(dir, { recursive: true });
  // Built in a private folder and renamed into place: an interrupted or concurrent provisioning never leaves half a launcher.
  const staging = mkdtempSync(join(dir, '.provision-'));
  const started = Date.now();
  log(`whenflow: provisioning the time-skipping test server ${TEST_SERVER_VERSION} with Maven (once; cached at ${dir})`);
  try {
    writeFileSync(join(staging, 'pom.xml'), POM);
    await run(mvn, ['-q', '-B', 'dependency:build-classpath', `-Dmdep.outputFile=${join(staging, 'classpath.txt')}`], staging, log);
    const classpath = readFileSync(join(staging, 'classpath.txt'), 'utf8').trim();
    if (!classpath) throw new Error('Maven resolved an empty classpath for the test server');
    writeFileSync(join(dir, 'classpath.txt'), classpath);
    const script = `#!/bin/sh\n# Temporal's time-skipping test server ${TEST_SERVER_VERSION}; arguments: <port>. Its output goes to stderr: stdout of whenflow commands is theirs.\nexec java -cp "$(cat '${join(dir, 'classpath.txt')}')" ${MAIN_CLASS} "$@" 1>&2\n`;
    writeFileSync(join(staging, 'launcher'), script);
    chmodSync(join(staging, 'launcher'), 0o755);
    renameSync(join(staging, 'launcher'), launcher);
    log(`whenflow: time-skipping test server ready after ${Math.round((Date.now() - started) / 1000)} s`);
    return launcher;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** A TestWorkflowEnvironment on the cached time-skipping test server (provisioned on first use). */
export async function createTimeSkippingEnvironment(log?: Log): Promise<TestWorkflowEnvironment> {
  const path = await provisionTestServer(log);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
  try {
    // The test server knows no custom search attributes until they are added; tasks set them when they start.
    const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;
    const types = {
      KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    } as const;
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(TASK_SEARCH_ATTRIBUTES.map((key) => [key.name, types[key.type as keyof typeof types]])),
    });
  } catch (error) {
    await env.teardown();
    throw error;
  }
  return env;
}

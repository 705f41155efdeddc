import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { scratchWorkspaces } from '../support/scratch-workspaces';
import {
  CONFIG_FILE_NAMES,
  defaultWorkspaceConfig,
  loadWorkspaceConfig,
  parseStashKey,
  secretConfigValues,
  stashKeysOf,
  type ConfigProblem,
} from '../../src/workspace/config';
import { DEFAULT_CONNECTOR_POLICY, DEFAULT_STEP_RETRY, DEFAULT_STEP_TIMEOUT_MS } from '../../src/model/defaults';

const { workspace, load } = scratchWorkspaces('config');

const KEY = randomBytes(32);
const KEY_B64 = KEY.toString('base64');

const paths = (problems: ConfigProblem[]) => problems.map((p) => p.path);

describe('loadWorkspaceConfig: no file', () => {
  it('gives the defaults and no problems', async () => {
    const dir = await workspace();
    const { config, problems } = await loadWorkspaceConfig(dir, {});
    expect(problems).toEqual([]);
    expect(config).toEqual(defaultWorkspaceConfig());
    expect(config).toEqual({
      defaults: {
        retry: DEFAULT_STEP_RETRY,
        timeoutMs: DEFAULT_STEP_TIMEOUT_MS,
        concurrency: 1,
        onConflict: 'rerun',
        maxStepRuns: 10_000,
        maxSubtasks: 100,
        maxDataBytes: 1_572_864,
        maxHeapMb: 512,
      },
      stashKey: null,
      stashKeys: null,
      secretConfig: [],
      values: {},
      connectors: {},
      observability: { metrics: null, tracing: null },
      webhooks: null,
      webhookServer: null,
      blobs: null,
      name: null,
      file: null,
    });
  });

  it('an empty or comment-only file is the defaults too, with the file recorded', async () => {
    for (const text of ['', '# nothing yet\n']) {
      const { dir, config, problems } = await load(text);
      expect(problems).toEqual([]);
      expect(config).toEqual({ ...defaultWorkspaceConfig(), file: join(dir, 'whenflow.yaml') });
    }
  });

  it('defaultWorkspaceConfig returns a fresh object each time', () => {
    const a = defaultWorkspaceConfig();
    a.defaults.retry.nonRetryableErrorTypes.push('X');
    a.values.k = 1;
    expect(defaultWorkspaceConfig().defaults.retry.nonRetryableErrorTypes).toEqual([]);
    expect(defaultWorkspaceConfig().values).toEqual({});
  });
});

describe('loadWorkspaceConfig: a full valid file', () => {
  const FULL = `
defaults:
  retry:
    initialInterval: 2s
    backoffCoefficient: 3
    maximumInterval: 1m
    maximumAttempts: 4
    nonRetryableErrorTypes: [ValidationError]
  timeout: 90s
  concurrency: 4
  onConflict: error
  maxStepRuns: 500
  maxSubtasks: 20
  maxDataBytes: 500000
  maxHeapMb: 256
secrets:
  key: ${KEY_B64}
config:
  SLACK_CHANNEL: "#ops"
  LIMITS: { daily: 100, regions: [eu, us] }
  ENABLED: true
  NOTHING: null
connectors:
  crm:
    retry: { maximumAttempts: 2 }
    timeout: 10s
    options: { baseUrl: "https://crm.example", pageSize: 50 }
  mail: {}
  bare:
webhooks:
  orders: { path: /hooks/orders }
`;

  it('resolves every setting', async () => {
    const { dir, config, problems } = await load(FULL);
    expect(problems).toEqual([]);
    expect(config.defaults).toEqual({
      retry: {
        initialIntervalMs: 2000,
        backoffCoefficient: 3,
        maximumIntervalMs: 60_000,
        maximumAttempts: 4,
        nonRetryableErrorTypes: ['ValidationError'],
      },
      timeoutMs: 90_000,
      concurrency: 4,
      onConflict: 'error',
      maxStepRuns: 500,
      maxSubtasks: 20,
      maxDataBytes: 500_000,
      maxHeapMb: 256,
    });
    expect(config.stashKey?.equals(KEY)).toBe(true);
    expect(config.values).toEqual({ SLACK_CHANNEL: '#ops', LIMITS: { daily: 100, regions: ['eu', 'us'] }, ENABLED: true, NOTHING: null });
    expect(config.connectors).toEqual({
      crm: {
        retry: { ...DEFAULT_CONNECTOR_POLICY.retry, maximumAttempts: 2 },
        timeoutMs: 10_000,
        options: { baseUrl: 'https://crm.example', pageSize: 50 },
      },
      mail: { options: {} },
      bare: { options: {} },
    });
    expect(config.webhooks).toEqual({ orders: { path: '/hooks/orders' } });
    expect(config.file).toBe(join(dir, 'whenflow.yaml'));
  });

  it('a connector retry resolves over the connector default (5 attempts, 1 s, ×2, at most 30 s)', async () => {
    expect(DEFAULT_CONNECTOR_POLICY.retry).toEqual({
      initialIntervalMs: 1000,
      backoffCoefficient: 2,
      maximumIntervalMs: 30_000,
      maximumAttempts: 5,
      nonRetryableErrorTypes: [],
    });
    const { config } = await load('connectors:\n  crm:\n    retry: { backoffCoefficient: 1.5 }\n');
    expect(config.connectors.crm?.retry).toEqual({ ...DEFAULT_CONNECTOR_POLICY.retry, backoffCoefficient: 1.5 });
    expect(config.connectors.crm?.timeoutMs).toBeUndefined();
  });

  it('partial defaults keep the other defaults; empty sections count as absent', async () => {
    const { config, problems } = await load('defaults:\n  retry: { maximumAttempts: 7 }\nsecrets:\nconfig:\nconnectors:\n');
    expect(problems).toEqual([]);
    expect(config.defaults).toEqual({ ...defaultWorkspaceConfig().defaults, retry: { ...DEFAULT_STEP_RETRY, maximumAttempts: 7 } });
    expect(config.stashKey).toBeNull();
    expect(config.values).toEqual({});
  });

  it('reads whenflow.yml when there is no whenflow.yaml', async () => {
    expect(CONFIG_FILE_NAMES).toEqual(['whenflow.yaml', 'whenflow.yml']);
    const { dir, config, problems } = await load('defaults: { concurrency: 3 }\n', {}, 'whenflow.yml');
    expect(problems).toEqual([]);
    expect(config.defaults.concurrency).toBe(3);
    expect(config.file).toBe(join(dir, 'whenflow.yml'));
  });

  it('both files present is a problem naming whenflow.yml', async () => {
    const dir = await workspace({ 'whenflow.yaml': 'defaults: { concurrency: 3 }\n', 'whenflow.yml': 'defaults: { concurrency: 4 }\n' });
    const { config, problems } = await loadWorkspaceConfig(dir, {});
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 'whenflow.yml', path: '' });
    expect(problems[0]?.message).toMatch(/both whenflow\.yaml and whenflow\.yml/);
    expect(config.defaults.concurrency).toBe(1);
  });
});

describe('loadWorkspaceConfig: ${…} substitution', () => {
  it('replaces variables in every string, with and without fallback, before validation', async () => {
    const yaml = [
      'defaults:',
      '  timeout: ${STEP_TIMEOUT}',
      'secrets:',
      '  key: ${WHENFLOW_STASH_KEY}',
      'config:',
      '  CHANNEL: ${CHANNEL}',
      '  REGION: ${REGION:-eu-west-1}',
      '  EMPTY_FALLS_BACK: ${EMPTY:-used}',
      '  URL: https://${HOST}:${PORT}/api',
      '  PORT: ${PORT}',
      '  LIST: ["${CHANNEL}", plain] # inside [ ] and { }, quote ${…}',
      '  LITERAL: $${NOT_A_VAR}',
      'connectors:',
      '  crm:',
      '    options: { token: "${CRM_TOKEN}" }',
      'webhooks: { secret: "${HOOK_SECRET:-none}" }',
    ].join('\n');
    const env = {
      STEP_TIMEOUT: '45s',
      WHENFLOW_STASH_KEY: KEY_B64,
      CHANNEL: '#alerts',
      EMPTY: '',
      HOST: 'example.org',
      PORT: '8080',
      CRM_TOKEN: 'tok',
    };
    const { config, problems } = await load(yaml, env);
    expect(problems).toEqual([]);
    expect(config.defaults.timeoutMs).toBe(45_000);
    expect(config.stashKey?.equals(KEY)).toBe(true);
    expect(config.values).toEqual({
      CHANNEL: '#alerts',
      REGION: 'eu-west-1',
      EMPTY_FALLS_BACK: 'used',
      URL: 'https://example.org:8080/api',
      PORT: '8080', // a whole-string ${PORT} stays a string
      LIST: ['#alerts', 'plain'],
      LITERAL: '${NOT_A_VAR}',
    });
    expect(config.connectors.crm?.options).toEqual({ token: 'tok' });
    expect(config.webhooks).toEqual({ secret: 'none' });
  });

  it('a set variable wins over its fallback', async () => {
    const { config } = await load('config:\n  REGION: ${REGION:-eu-west-1}\n', { REGION: 'us-east-2' });
    expect(config.values.REGION).toBe('us-east-2');
  });

  it('uses process.env when no env is given', async () => {
    vi.stubEnv('WHENFLOW_TEST_CHANNEL', '#from-process-env');
    try {
      const dir = await workspace({ 'whenflow.yaml': 'config:\n  C: ${WHENFLOW_TEST_CHANNEL}\n' });
      const { config, problems } = await loadWorkspaceConfig(dir);
      expect(problems).toEqual([]);
      expect(config.values.C).toBe('#from-process-env');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('an unset variable without fallback is a problem naming the key path and the variable', async () => {
    const yaml =
      'config:\n  SLACK_CHANNEL: ${SLACK_CHANNEL}\nsecrets:\n  key: ${WHENFLOW_STASH_KEY}\ndefaults:\n  timeout: ${STEP_TIMEOUT}\n';
    const { config, problems } = await load(yaml, { SLACK_CHANNEL: undefined });
    // One problem per unset variable: the empty value left behind is not reported again by validation.
    expect(paths(problems)).toEqual(['config.SLACK_CHANNEL', 'secrets.key', 'defaults.timeout']);
    expect(problems[0]?.message).toContain('SLACK_CHANNEL is not set');
    expect(problems[1]?.message).toContain('WHENFLOW_STASH_KEY is not set');
    expect(problems[2]?.message).toContain('STEP_TIMEOUT is not set');
    expect(problems.every((p) => p.file === 'whenflow.yaml')).toBe(true);
    expect(config).toEqual({ ...defaultWorkspaceConfig(), file: config.file });
  });

  it('an unset variable inside a list is located by index', async () => {
    const { problems } = await load('defaults:\n  retry:\n    nonRetryableErrorTypes: [A, "${B_TYPE}"]\n');
    expect(paths(problems)).toEqual(['defaults.retry.nonRetryableErrorTypes[1]']);
  });

  it('validation coerces nothing: a number from ${…} is a string and a problem', async () => {
    const { problems } = await load('defaults:\n  concurrency: ${CONCURRENCY}\n', { CONCURRENCY: '5' });
    expect(paths(problems)).toEqual(['defaults.concurrency']);
    expect(problems[0]?.message).toMatch(/expected number/);
    expect(problems[0]?.message).toMatch(/always a string/);
  });

  it('a "${" that starts no variable reference is a problem', async () => {
    const { problems } = await load('config:\n  X: "cost ${1 dollar}"\n');
    expect(paths(problems)).toEqual(['config.X']);
    expect(problems[0]?.message).toContain('$${');
  });

  it('`key: ${WHENFLOW_STASH_KEY:-}` with the variable unset means no key, not a problem', async () => {
    const { config, problems } = await load('secrets:\n  key: ${WHENFLOW_STASH_KEY:-}\n');
    expect(problems).toEqual([]);
    expect(config.stashKey).toBeNull();
  });
});

describe('loadWorkspaceConfig: problems', () => {
  it('a YAML syntax error is reported with its line and column', async () => {
    const { config, problems } = await load('defaults:\n  concurrency: 3\n  retry: [1, 2\nconfig: {}\n');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ file: 'whenflow.yaml', path: '' });
    expect(problems[0]?.message).toMatch(/^YAML syntax error at line 4, column \d+: /);
    expect(config.defaults.concurrency).toBe(1);
  });

  it('a duplicate key is a YAML problem with its line', async () => {
    const { problems } = await load('config:\n  A: 1\n  A: 2\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^YAML syntax error at line 3, column 3: .*unique/);
  });

  it('unknown keys are problems, at every level, with the allowed keys', async () => {
    const yaml =
      'default:\n  concurrency: 2\ndefaults:\n  retries: 3\n  retry: { maxAttempts: 3 }\nsecrets: { token: x }\nconnectors:\n  crm: { option: {} }\n';
    const { problems } = await load(yaml);
    expect(paths(problems).sort()).toEqual([
      'connectors.crm.option',
      'default',
      'defaults.retries',
      'defaults.retry.maxAttempts',
      'secrets.token',
    ]);
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    expect(byPath.get('default')).toBe(
      'unknown key "default" (allowed: name, defaults, secrets, config, connectors, webhooks, webhookServer, blobs, observability)',
    );
    expect(byPath.get('defaults.retry.maxAttempts')).toContain('maximumAttempts');
    expect(byPath.get('connectors.crm.option')).toContain('options');
  });

  it('bad values are located by dot path', async () => {
    const yaml = [
      'defaults:',
      '  retry: { maximumAttempts: 0, initialInterval: soon }',
      '  timeout: 0',
      '  concurrency: 1.5',
      '  maxSubtasks: 0',
      '  maxDataBytes: 1.5MB',
      'config:',
      '  BIG: .inf',
      'connectors:',
      '  crm:',
      '    timeout: true',
      '    options: [1, 2]',
      '  erp:',
      '    retry: { initialInterval: 1m }',
    ].join('\n');
    const { problems } = await load(yaml);
    expect(paths(problems).sort()).toEqual([
      'config.BIG',
      'connectors.crm.options',
      'connectors.crm.timeout',
      'defaults.concurrency',
      'defaults.maxDataBytes',
      'defaults.maxSubtasks',
      'defaults.retry.initialInterval',
      'defaults.retry.maximumAttempts',
      'defaults.timeout',
    ]);
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    expect(byPath.get('defaults.retry.initialInterval')).toContain('"soon" is not a duration');
    expect(byPath.get('connectors.crm.timeout')).toMatch(/must be a duration/);
    expect(byPath.get('defaults.timeout')).toMatch(/longer than 0/);
    expect(byPath.get('config.BIG')).toMatch(/Infinity is not a JSON number/);
  });

  it('a connector initialInterval beyond the connector default maximum (30 s) is a problem once the rest is valid', async () => {
    const { problems } = await load('connectors:\n  erp:\n    retry: { initialInterval: 1m }\n');
    expect(problems).toEqual([
      { file: 'whenflow.yaml', path: 'connectors.erp.retry.initialInterval', message: expect.stringContaining('maximum interval') },
    ]);
    const fixed = await load('connectors:\n  erp:\n    retry: { initialInterval: 1m, maximumInterval: 2m }\n');
    expect(fixed.problems).toEqual([]);
    expect(fixed.config.connectors.erp?.retry).toMatchObject({ initialIntervalMs: 60_000, maximumIntervalMs: 120_000 });
  });

  it('a top level that is not a mapping is a problem', async () => {
    const { problems } = await load('- a\n- b\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/must be a mapping/);
  });

  it('whenflow.yaml that is a folder is a problem, not a crash', async () => {
    const dir = await workspace();
    await mkdir(join(dir, 'whenflow.yaml'));
    const { problems } = await loadWorkspaceConfig(dir, {});
    expect(problems).toEqual([{ file: 'whenflow.yaml', path: '', message: 'whenflow.yaml is a folder, not a file' }]);
  });

  it('every problem names the file it is in', async () => {
    for (const name of CONFIG_FILE_NAMES) {
      const { problems } = await load(
        'defaults:\n  concurrency: 0\n  bogus: 1\nconfig:\n  A: ${UNSET}\nsecrets: { key: short }\n',
        {},
        name,
      );
      expect(problems).toHaveLength(4);
      expect(problems.map((p) => p.file)).toEqual([name, name, name, name]);
    }
  });
});

describe('stash key', () => {
  const badKeyMessage = async (key: string) => {
    const { config, problems } = await load(`secrets:\n  key: "${key}"\n`);
    expect(config.stashKey).toBeNull();
    expect(paths(problems)).toEqual(['secrets.key']);
    return problems[0]?.message ?? '';
  };

  it('a key of the wrong length is a problem saying what a valid key is and how to make one, without echoing the key', async () => {
    const short = randomBytes(16).toString('base64');
    const message = await badKeyMessage(short);
    expect(message).toContain('decodes to 16 bytes, not 32');
    expect(message).toContain('exactly 32 random bytes');
    expect(message).toContain('openssl rand -base64 32');
    expect(message).toContain("require('crypto').randomBytes(32).toString('base64')");
    expect(message).not.toContain(short);
  });

  it('a key that is not base64 is a problem', async () => {
    expect(await badKeyMessage('this is not a key!')).toMatch(/not base64.*openssl rand -base64 32/s);
    const mixedAlphabets = `+_${'A'.repeat(41)}=`;
    expect(await badKeyMessage(mixedAlphabets)).toMatch(/not base64/);
  });

  it('a key that is not a string is a problem', async () => {
    const { problems } = await load('secrets:\n  key: 12345\n');
    expect(paths(problems)).toEqual(['secrets.key']);
  });

  it('accepts standard and URL-safe base64, padded or not, with surrounding whitespace', async () => {
    const key = Buffer.from('fb'.repeat(32), 'hex'); // bytes that encode to + and / (or - and _)
    const standard = key.toString('base64');
    const urlSafe = key.toString('base64url');
    expect(standard).toMatch(/[+/]/);
    expect(urlSafe).toMatch(/[-_]/);
    for (const text of [standard, standard.replace(/=+$/, ''), urlSafe, `${urlSafe}=`, ` ${standard}\n`]) {
      const parsed = parseStashKey(text);
      expect('key' in parsed && parsed.key.equals(key), text).toBe(true);
    }
    const { config, problems } = await load(`secrets:\n  key: ${urlSafe}\n`);
    expect(problems).toEqual([]);
    expect(config.stashKey?.equals(key)).toBe(true);
  });

  it('refuses non-canonical base64 (unused trailing bits set)', () => {
    const text = KEY.toString('base64url'); // 43 characters: the last one carries 2 unused bits
    const last = text[text.length - 1] ?? 'A';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[(alphabet.indexOf(last) ^ 1) % 64] ?? 'B';
    expect(parseStashKey(text.slice(0, -1) + sibling)).toMatchObject({ error: expect.stringContaining('canonical') });
  });
});

describe('secrets: several keys with ids, and config values that are secrets', () => {
  const OTHER = randomBytes(32);

  it('keys: the first seals, all open; the single key form still works as id "default"', async () => {
    const { config, problems } = await load(
      `secrets:\n  keys:\n    - { id: k2, key: "${OTHER.toString('base64')}" }\n    - { id: default, key: "\${OLD_KEY}" }\n`,
      { OLD_KEY: KEY_B64 },
    );
    expect(problems).toEqual([]);
    expect(config.stashKey?.equals(OTHER)).toBe(true);
    expect(config.stashKeys?.map((k) => k.id)).toEqual(['k2', 'default']);
    expect(stashKeysOf(config)).toBe(config.stashKeys);
    const single = await load(`secrets:\n  key: "${KEY_B64}"\n`);
    expect(single.problems).toEqual([]);
    expect(single.config.stashKeys).toBeNull();
    expect(stashKeysOf(single.config)).toBe(single.config.stashKey);
  });

  it('reports key and keys together, a repeated id, a bad id and a bad key at their paths', async () => {
    const both = await load(`secrets:\n  key: "${KEY_B64}"\n  keys: [{ id: a, key: "${KEY_B64}" }]\n`);
    expect(paths(both.problems)).toEqual(['secrets.keys']);
    const repeated = await load(
      `secrets:\n  keys:\n    - { id: a, key: "${KEY_B64}" }\n    - { id: a, key: "${OTHER.toString('base64')}" }\n`,
    );
    expect(repeated.problems.map((p) => [p.path, p.message])).toEqual([['secrets.keys[1].id', 'id "a" is given twice']]);
    const badId = await load(`secrets:\n  keys: [{ id: "no spaces", key: "${KEY_B64}" }]\n`);
    expect(paths(badId.problems)).toEqual(['secrets.keys[0].id']);
    const badKey = await load('secrets:\n  keys: [{ id: a, key: "short" }]\n');
    expect(paths(badKey.problems)).toEqual(['secrets.keys[0].key']);
    expect(badKey.problems[0]!.message).not.toContain('short');
  });

  it('secrets.config names config values to mask; an unknown name is a problem', async () => {
    const { config, problems } = await load('secrets:\n  config: [API_TOKEN]\nconfig:\n  API_TOKEN: tok-123\n  CHANNEL: "#ops"\n');
    expect(problems).toEqual([]);
    expect(config.secretConfig).toEqual(['API_TOKEN']);
    expect(secretConfigValues(config)).toEqual(['tok-123']);
    const unknown = await load('secrets:\n  config: [API_TOKN]\nconfig:\n  API_TOKEN: tok-123\n');
    expect(unknown.problems.map((p) => [p.path, p.message])).toEqual([
      ['secrets.config[0]', '"API_TOKN" is not a value under config: (known: API_TOKEN)'],
    ]);
  });
});

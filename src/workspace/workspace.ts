import { relative, resolve } from 'node:path';
import { describeProblems, type FileProblem } from '../model/problems';
import { loadConnectors, type ConnectorRegistry } from '../connectors';
import type { Catalog, ConnectorPolicy } from '../model/task';
import { resolveStepOptions, stepOptionsSchema } from '../steps/options';
import { loadStepFiles, type LoadedStep } from '../steps/step-files';
import { parseWebhookServerLimits, parseWebhooks, type WebhookDefinition, type WebhookServerLimits } from '../webhooks/config';
import { parseBlobSettings, type BlobSettings } from '../blobs/config';
import { loadLibraries, type LoadedLibraries } from '../steps/libraries';
import { loadWorkspaceConfig, type WorkspaceConfig } from './config';
import { FinalError, brandError } from '../model/errors';
import { formatJsonPath } from '../model/json';
import { DEFAULT_CONNECTOR_POLICY } from '../model/defaults';

/** One thing wrong anywhere in a workspace: a step file, a connector module, or whenflow.yaml. */
export interface WorkspaceProblem extends FileProblem {
  /** What kind of file has it; a step activity needs valid configuration and connectors, not every step. */
  kind: 'config' | 'connector' | 'step' | 'library';
}

/**
 * The workspace's configuration (whenflow.yaml, connectors/, libraries/) has problems, so no step can run;
 * the message lists every problem of the workspace, each with its file and key. Final until the files change.
 */
export class WorkspaceConfigError extends FinalError {
  static {
    brandError(WorkspaceConfigError, 'WorkspaceConfigError');
  }

  constructor(
    readonly workspace: string,
    readonly problems: WorkspaceProblem[],
  ) {
    super(describeProblems(problems, `workspace ${workspace}`));
  }
}

/** Everything a worker needs from a workspace folder, with every problem found in it. */
export interface Workspace {
  dir: string;
  config: WorkspaceConfig;
  connectors: ConnectorRegistry;
  catalog: Catalog;
  steps: Map<string, LoadedStep>;
  /** Webhooks declared in whenflow.yaml, by name. */
  webhooks: Map<string, WebhookDefinition>;
  /** The webhook receiver's limits (whenflow.yaml `webhookServer:`). */
  webhookLimits: WebhookServerLimits;
  /** `libraries/`: the `lib` global of step content. */
  libraries: LoadedLibraries;
  /** Where `blob.create()` stores content (whenflow.yaml `blobs:`). */
  blobs: BlobSettings;
  problems: WorkspaceProblem[];
}

/**
 * Reads a workspace: whenflow.yaml, connectors/ and steps/. Never throws for bad content: all
 * problems of all files come back together, so a user fixes them in one go.
 */
export async function openWorkspace(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<Workspace> {
  const root = resolve(dir);
  const [{ config, problems: configProblems }, { registry, problems: connectorProblems, policies }, libraries] = await Promise.all([
    loadWorkspaceConfig(root, env),
    loadConnectors(root),
    loadLibraries(root),
  ]);
  const loaded = await loadStepFiles(root, {
    retry: config.defaults.retry,
    timeoutMs: config.defaults.timeoutMs,
    local: config.defaults.local,
  });
  const problems: WorkspaceProblem[] = [
    ...configProblems.map((p) => ({ kind: 'config' as const, file: p.file, ...(p.path ? { path: p.path } : {}), message: p.message })),
    ...connectorProblems.map((p) => ({ kind: 'connector' as const, file: p.file, message: p.message })),
    ...loaded.problems.map((p) => ({ kind: 'step' as const, file: p.file, ...(p.path ? { path: p.path } : {}), message: p.message })),
    ...libraries.problems.map((p) => ({ kind: 'library' as const, file: p.file, message: p.message })),
  ];
  const webhooks = parseWebhooks(config.webhooks);
  const configFile = config.file ? relative(root, config.file) : 'whenflow.yaml';
  problems.push(...webhooks.problems.map((p) => ({ kind: 'config' as const, file: configFile, path: p.path, message: p.message })));
  const webhookLimits = parseWebhookServerLimits(config.webhookServer);
  problems.push(...webhookLimits.problems.map((p) => ({ kind: 'config' as const, file: configFile, path: p.path, message: p.message })));
  const blobs = parseBlobSettings(config.blobs, root);
  problems.push(...blobs.problems.map((p) => ({ kind: 'config' as const, file: configFile, path: p.path, message: p.message })));
  const connectors: Record<string, ConnectorPolicy> = {};
  for (const name of registry.names()) {
    const policy = connectorPolicy(name, config, policies[name], problems);
    if (policy) connectors[name] = policy;
  }
  return {
    dir: root,
    config,
    connectors: registry,
    catalog: { ...loaded.catalog, connectors },
    steps: loaded.steps,
    webhooks: webhooks.hooks,
    webhookLimits: webhookLimits.limits,
    libraries,
    blobs: blobs.settings,
    problems,
  };
}

/**
 * A connector's policy for deferred calls: whenflow.yaml's `connectors.<name>` wins over the module's
 * own `retry`/`timeout` exports, which win over the default. Null when nothing differs from the default.
 */
function connectorPolicy(
  name: string,
  config: WorkspaceConfig,
  declared: { retry?: unknown; timeout?: unknown } | undefined,
  problems: WorkspaceProblem[],
): ConnectorPolicy | null {
  const configured = config.connectors[name];
  let fromModule: Partial<ConnectorPolicy> = {};
  if (declared && (declared.retry !== undefined || declared.timeout !== undefined)) {
    const parsed = stepOptionsSchema.safeParse({ retry: declared.retry, timeout: declared.timeout });
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push({ kind: 'connector', file: `connectors/${name}`, path: formatJsonPath(issue.path), message: issue.message });
    } else {
      const resolved = resolveStepOptions(parsed.data, {
        retry: DEFAULT_CONNECTOR_POLICY.retry,
        timeoutMs: DEFAULT_CONNECTOR_POLICY.timeoutMs,
      });
      fromModule = {
        ...(declared.retry !== undefined ? { retry: resolved.retry } : {}),
        ...(declared.timeout !== undefined ? { timeoutMs: resolved.timeoutMs } : {}),
      };
    }
  }
  const retry = configured?.retry ?? fromModule.retry;
  const timeoutMs = configured?.timeoutMs ?? fromModule.timeoutMs;
  if (retry === undefined && timeoutMs === undefined) return null;
  return {
    retry: retry ?? DEFAULT_CONNECTOR_POLICY.retry,
    timeoutMs: timeoutMs ?? DEFAULT_CONNECTOR_POLICY.timeoutMs,
  };
}

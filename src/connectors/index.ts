export {
  BUILTIN_CONNECTORS,
  BUILTIN_NAMES,
  DEFAULT_FETCH_TIMEOUT_MS,
  HttpError,
  HttpTimeoutError,
  parseArgs,
  type FetchResult,
} from './builtins';
export { CallTracker, createConnectorsProxy, validateInto, type ConnectorsProxy, type DeferredConnectorCall } from './proxy';
export {
  CONNECTOR_EXTENSIONS,
  ConnectorRegistry,
  connectorsDir,
  jsonArgs,
  loadConnectorFile,
  loadConnectors,
  POLICY_EXPORTS,
} from './registry';
export {
  ConnectorError,
  type Connector,
  type ConnectorContext,
  type ConnectorMethod,
  type ConnectorProblem,
  type RawConnectorPolicy,
} from './types';

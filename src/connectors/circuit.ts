/**
 * Circuit breakers for connectors: after `failures` consecutive failed calls a connector's circuit opens
 * and calls fail fast for `cooldownMs`; then one probe call is let through, whose success closes the
 * circuit and whose failure opens it for another cooldown.
 *
 * Pure bookkeeping with an injected clock: it never calls a connector, sleeps or prints. The worker owns
 * one board for all tasks and asks it before and after every call.
 */
import { WhenflowError, brandError } from '../model/errors';

export interface CircuitSettings {
  /** Consecutive failures that open the circuit (≥ 1). */
  failures: number;
  /** How long an open circuit rejects calls before letting one probe through. */
  cooldownMs: number;
}

export const DEFAULT_CIRCUIT: CircuitSettings = { failures: 5, cooldownMs: 30_000 };

export type CircuitStatus = 'closed' | 'open' | 'half-open';

export type CircuitState =
  | { status: 'closed'; failures: number }
  | { status: 'open'; failures: number; openedAt: number; until: number }
  /** `probeSince`: when the probe in flight was let through, or null while waiting for one. */
  | { status: 'half-open'; failures: number; probeSince: number | null };

/** How one call ended, as far as the connector's health is concerned. */
export type CallOutcome =
  /** The connector answered (a result, or an error that is the caller's fault such as a 4xx). */
  | 'success'
  /** The connector is failing: network error, timeout, 5xx, any other thrown error. */
  | 'failure'
  /** Says nothing about the connector: the call was cancelled by its caller, or never sent. */
  | 'neutral';

export type Admission =
  | { verdict: 'call' | 'probe'; state: CircuitState }
  | { verdict: 'reject'; state: CircuitState /** When a probe may be let through; null while one is in flight. */; retryAt: number | null };

export const CLOSED: CircuitState = { status: 'closed', failures: 0 };

/** Whether a call may go ahead now, and the state after asking. */
export function admit(state: CircuitState, settings: CircuitSettings, now: number): Admission {
  switch (state.status) {
    case 'closed':
      return { verdict: 'call', state };
    case 'open':
      if (now < state.until) return { verdict: 'reject', state, retryAt: state.until };
      return { verdict: 'probe', state: { status: 'half-open', failures: state.failures, probeSince: now } };
    case 'half-open':
      // A probe that never settles (a connector ignoring cancellation) must not hold the circuit forever.
      if (state.probeSince !== null && now - state.probeSince < settings.cooldownMs) return { verdict: 'reject', state, retryAt: null };
      return { verdict: 'probe', state: { ...state, probeSince: now } };
  }
}

/** The state after a call admitted as `probe` (or not) ended with `outcome`. */
export function settle(state: CircuitState, settings: CircuitSettings, outcome: CallOutcome, probe: boolean, now: number): CircuitState {
  const open = (failures: number): CircuitState => ({ status: 'open', failures, openedAt: now, until: now + settings.cooldownMs });
  if (outcome === 'neutral') {
    return probe && state.status === 'half-open' ? { ...state, probeSince: null } : state;
  }
  if (outcome === 'success') {
    if (state.status === 'closed') return state.failures === 0 ? state : CLOSED;
    // Only the probe decides a half-open circuit; answers to calls let through before it opened do not.
    return probe && state.status === 'half-open' ? CLOSED : state;
  }
  const failures = state.failures + 1;
  switch (state.status) {
    case 'closed':
      return failures >= settings.failures ? open(failures) : { status: 'closed', failures };
    case 'half-open':
      return probe ? open(failures) : { ...state, failures };
    case 'open':
      return { ...state, failures };
  }
}

/** What an outside observer sees: an open circuit whose cooldown has passed waits for its probe. */
export function observe(state: CircuitState, now: number): CircuitStatus {
  return state.status === 'open' && now >= state.until ? 'half-open' : state.status;
}

// ---------------------------------------------------------------------------------------------------
// Errors

/**
 * A call refused because the connector's circuit is open (or half-open with a probe in flight). Retryable
 * on purpose: the step's (or deferred call's) retry policy waits the cooldown out.
 */
export class CircuitOpenError extends WhenflowError {
  static {
    brandError(CircuitOpenError, 'CircuitOpenError');
  }

  readonly connector: string;
  readonly failures: number;
  /** Epoch ms when a probe call will be let through; null while a probe is already in flight. */
  readonly retryAt: number | null;

  constructor(connector: string, method: string, failures: number, retryAt: number | null, now: number, lastFailure: string | null) {
    const last = lastFailure ? ` (last: ${lastFailure})` : '';
    const when =
      retryAt === null
        ? 'a probe call is checking whether it recovered; retry shortly'
        : `calls fail fast until ${new Date(retryAt).toISOString()} (in ${Math.max(0, Math.ceil((retryAt - now) / 1000))} s), then one probe call is let through`;
    super(
      `connectors.${connector}.${method}: circuit ${retryAt === null ? 'half-open' : 'open'} after ${failures} consecutive failure${failures === 1 ? '' : 's'}${last}; ${when}`,
    );
    this.connector = connector;
    this.failures = failures;
    this.retryAt = retryAt;
  }
}

// ---------------------------------------------------------------------------------------------------
// The board: one circuit per connector name

export interface CircuitTransition {
  connector: string;
  from: CircuitStatus;
  to: CircuitStatus;
  failures: number;
  /** For `open`: when a probe will be let through (epoch ms). */
  until: number | null;
  lastFailure: string | null;
  at: number;
}

export interface CircuitReport {
  connector: string;
  status: CircuitStatus;
  consecutiveFailures: number;
  /** Epoch ms when an open circuit lets a probe through; null otherwise. */
  openUntil: number | null;
  settings: CircuitSettings;
  lastFailure: string | null;
}

interface Circuit {
  state: CircuitState;
  settings: CircuitSettings;
  lastFailure: string | null;
}

export type Ticket = { connector: string; probe: boolean; settings: CircuitSettings };

const LAST_FAILURE_CHARS = 200;

/** The circuits of one worker, shared by every task and every reading of the workspace configuration. */
export class CircuitBoard {
  private readonly circuits = new Map<string, Circuit>();
  private readonly listeners = new Set<(transition: CircuitTransition) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Calls `listener` on every status change; returns a function that stops it. */
  onTransition(listener: (transition: CircuitTransition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A ticket for a call that may go ahead, or a CircuitOpenError to throw instead. */
  admit(connector: string, method: string, settings: CircuitSettings): Ticket | CircuitOpenError {
    const circuit = this.circuit(connector, settings);
    const now = this.now();
    const admission = admit(circuit.state, settings, now);
    this.update(connector, circuit, admission.state, now);
    if (admission.verdict === 'reject')
      return new CircuitOpenError(connector, method, circuit.state.failures, admission.retryAt, now, circuit.lastFailure);
    return { connector, probe: admission.verdict === 'probe', settings };
  }

  settle(ticket: Ticket, outcome: CallOutcome, failure?: string): void {
    const circuit = this.circuit(ticket.connector, ticket.settings);
    const now = this.now();
    if (outcome === 'failure' && failure !== undefined)
      circuit.lastFailure = failure.length > LAST_FAILURE_CHARS ? `${failure.slice(0, LAST_FAILURE_CHARS)}…` : failure;
    this.update(ticket.connector, circuit, settle(circuit.state, ticket.settings, outcome, ticket.probe, now), now);
  }

  /** Every connector that has been called, by name. */
  report(): CircuitReport[] {
    const now = this.now();
    return [...this.circuits.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([connector, { state, settings, lastFailure }]) => ({
        connector,
        status: observe(state, now),
        consecutiveFailures: state.failures,
        openUntil: state.status === 'open' && now < state.until ? state.until : null,
        settings,
        lastFailure,
      }));
  }

  private circuit(connector: string, settings: CircuitSettings): Circuit {
    let circuit = this.circuits.get(connector);
    if (!circuit) {
      circuit = { state: CLOSED, settings, lastFailure: null };
      this.circuits.set(connector, circuit);
    }
    circuit.settings = settings; // whenflow.yaml may have changed since the last call
    return circuit;
  }

  private update(connector: string, circuit: Circuit, next: CircuitState, now: number): void {
    const before = circuit.state;
    circuit.state = next;
    if (next.status === 'closed' && next.failures === 0) circuit.lastFailure = null;
    if (before.status === next.status) return;
    const transition: CircuitTransition = {
      connector,
      from: before.status,
      to: next.status,
      failures: next.failures,
      until: next.status === 'open' ? next.until : null,
      lastFailure: circuit.lastFailure,
      at: now,
    };
    for (const listener of this.listeners) listener(transition);
  }
}

/**
 * A connector's circuit settings: as configured in whenflow.yaml (`false` turns it off), else the defaults
 * for workspace connectors and none for built-ins (`fetch` reaches any host: one failing host must not
 * block calls to the others).
 */
export function circuitSettingsFor(configured: CircuitSettings | false | undefined, builtin: boolean): CircuitSettings | null {
  if (configured === false) return null;
  if (configured) return configured;
  return builtin ? null : DEFAULT_CIRCUIT;
}

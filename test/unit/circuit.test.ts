import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/connectors/builtins';
import {
  admit,
  CircuitBoard,
  CircuitOpenError,
  circuitSettingsFor,
  CLOSED,
  DEFAULT_CIRCUIT,
  settle,
  type CallOutcome,
  type CircuitSettings,
  type Ticket,
} from '../../src/connectors/circuit';
import { chainGuards, circuitGuard } from '../../src/connectors/guard';
import { ConnectorRegistry } from '../../src/connectors/registry';
import { ConnectorError, type Connector, type ConnectorCallGuard, type ConnectorContext } from '../../src/connectors/types';

const SETTINGS: CircuitSettings = { failures: 3, cooldownMs: 1000 };

/** A board on a clock the test moves. */
function boardAt(start = 0) {
  const clock = { now: start };
  const board = new CircuitBoard(() => clock.now);
  const transitions: string[] = [];
  board.onTransition((t) => transitions.push(`${t.from}->${t.to}`));
  return { board, clock, transitions };
}

const call = (board: CircuitBoard, outcome: CallOutcome, settings = SETTINGS): Ticket | CircuitOpenError => {
  const ticket = board.admit('crm', 'find', settings);
  if (!(ticket instanceof Error)) board.settle(ticket, outcome, outcome === 'failure' ? 'boom' : undefined);
  return ticket;
};

describe('circuit state machine', () => {
  it('opens after N consecutive failures, rejects until the cooldown ends, then lets one probe through', () => {
    const { board, clock, transitions } = boardAt(10_000);
    expect(call(board, 'failure')).not.toBeInstanceOf(Error);
    expect(call(board, 'failure')).not.toBeInstanceOf(Error);
    expect(board.report()[0]).toMatchObject({ status: 'closed', consecutiveFailures: 2 });
    expect(call(board, 'failure')).not.toBeInstanceOf(Error);
    expect(board.report()[0]).toMatchObject({ status: 'open', consecutiveFailures: 3, openUntil: 11_000, lastFailure: 'boom' });

    clock.now = 10_999;
    const rejected = board.admit('crm', 'find', SETTINGS);
    expect(rejected).toBeInstanceOf(CircuitOpenError);
    expect((rejected as CircuitOpenError).retryAt).toBe(11_000);

    clock.now = 11_000;
    expect(board.report()[0]?.status).toBe('half-open');
    const probe = board.admit('crm', 'find', SETTINGS) as Ticket;
    expect(probe.probe).toBe(true);
    // While the probe is in flight, everyone else still fails fast.
    const second = board.admit('crm', 'find', SETTINGS);
    expect(second).toBeInstanceOf(CircuitOpenError);
    expect((second as CircuitOpenError).retryAt).toBeNull();
    board.settle(probe, 'success');
    expect(board.report()[0]).toMatchObject({ status: 'closed', consecutiveFailures: 0, openUntil: null, lastFailure: null });
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('a failed probe opens the circuit for another cooldown', () => {
    const { board, clock, transitions } = boardAt();
    for (let i = 0; i < 3; i++) call(board, 'failure');
    clock.now = 1000;
    const probe = board.admit('crm', 'find', SETTINGS) as Ticket;
    clock.now = 1200;
    board.settle(probe, 'failure', 'still down');
    expect(board.report()[0]).toMatchObject({ status: 'open', consecutiveFailures: 4, openUntil: 2200, lastFailure: 'still down' });
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
  });

  it('a success resets the count: failures must be consecutive', () => {
    const { board } = boardAt();
    call(board, 'failure');
    call(board, 'failure');
    call(board, 'success');
    call(board, 'failure');
    call(board, 'failure');
    expect(board.report()[0]).toMatchObject({ status: 'closed', consecutiveFailures: 2 });
  });

  it('a neutral probe (cancelled by its caller) lets the next call probe instead', () => {
    const { board, clock } = boardAt();
    for (let i = 0; i < 3; i++) call(board, 'failure');
    clock.now = 1000;
    const probe = board.admit('crm', 'find', SETTINGS) as Ticket;
    board.settle(probe, 'neutral');
    const next = board.admit('crm', 'find', SETTINGS) as Ticket;
    expect(next).not.toBeInstanceOf(Error);
    expect(next.probe).toBe(true);
  });

  it('a probe that never settles stops blocking after one cooldown', () => {
    const { board, clock } = boardAt();
    for (let i = 0; i < 3; i++) call(board, 'failure');
    clock.now = 1000;
    board.admit('crm', 'find', SETTINGS);
    clock.now = 1999;
    expect(board.admit('crm', 'find', SETTINGS)).toBeInstanceOf(CircuitOpenError);
    clock.now = 2000;
    expect((board.admit('crm', 'find', SETTINGS) as Ticket).probe).toBe(true);
  });

  it('answers to calls let through before the circuit opened do not close it', () => {
    const { board } = boardAt();
    const early = board.admit('crm', 'find', SETTINGS) as Ticket;
    for (let i = 0; i < 3; i++) call(board, 'failure');
    board.settle(early, 'success');
    expect(board.report()[0]?.status).toBe('open');
  });

  it('the error names the connector, the failures and when the probe goes through; it is not a ConnectorError', () => {
    const error = new CircuitOpenError(
      'crm',
      'find',
      5,
      Date.parse('2026-01-01T00:00:30Z'),
      Date.parse('2026-01-01T00:00:00Z'),
      'GET http://x → 503',
    );
    expect(error.message).toBe(
      'connectors.crm.find: circuit open after 5 consecutive failures (last: GET http://x → 503); calls fail fast until 2026-01-01T00:00:30.000Z (in 30 s), then one probe call is let through',
    );
    expect(error.name).toBe('CircuitOpenError');
    expect(error).not.toBeInstanceOf(ConnectorError);
  });

  it('defaults: workspace connectors have a circuit, built-ins only when configured, false turns it off', () => {
    expect(circuitSettingsFor(undefined, false)).toEqual(DEFAULT_CIRCUIT);
    expect(circuitSettingsFor(undefined, true)).toBeNull();
    expect(circuitSettingsFor(SETTINGS, true)).toEqual(SETTINGS);
    expect(circuitSettingsFor(false, false)).toBeNull();
  });
});

// ---- properties -------------------------------------------------------------------------------

const settingsArb = fc.record({ failures: fc.integer({ min: 1, max: 5 }), cooldownMs: fc.integer({ min: 1, max: 50 }) });
const outcomeArb = fc.constantFrom<CallOutcome>('success', 'failure', 'neutral');

describe('circuit properties', () => {
  it('sequential calls behave like the textbook breaker', () => {
    fc.assert(
      fc.property(
        settingsArb,
        fc.array(fc.record({ wait: fc.integer({ min: 0, max: 60 }), outcome: outcomeArb }), { minLength: 10, maxLength: 60 }),
        (settings, calls) => {
          // Reference: closed with a count, or open until a time; an expired open circuit probes.
          let model = { open: false, failures: 0, until: 0 };
          let state = CLOSED;
          let now = 0;
          for (const { wait, outcome } of calls) {
            now += wait;
            const admission = admit(state, settings, now);
            const modelRejects = model.open && now < model.until;
            expect(admission.verdict === 'reject').toBe(modelRejects);
            expect(admission.verdict === 'probe').toBe(model.open && now >= model.until);
            state = admission.state;
            if (admission.verdict === 'reject') continue;
            state = settle(state, settings, outcome, admission.verdict === 'probe', now);
            if (outcome === 'success') model = { open: false, failures: 0, until: 0 };
            else if (outcome === 'failure') {
              const failures = model.failures + 1;
              model =
                model.open || failures >= settings.failures
                  ? { open: true, failures, until: now + settings.cooldownMs }
                  : { open: false, failures, until: 0 };
            } else if (model.open) model = { ...model, until: now }; // a neutral probe: the next call probes
            expect(state.failures).toBe(model.failures);
            expect(state.status === 'closed').toBe(!model.open);
          }
        },
      ),
      { seed: 4242, numRuns: 300 },
    );
  });

  it('with calls overlapping, at most one probe is in flight unless the previous one is older than the cooldown', () => {
    type Op = { kind: 'admit' } | { kind: 'settle'; index: number; outcome: CallOutcome } | { kind: 'wait'; ms: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ kind: 'admit' }),
      fc.record({ kind: fc.constant('settle' as const), index: fc.nat(), outcome: outcomeArb }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(settingsArb, fc.array(opArb, { minLength: 20, maxLength: 80 }), (settings, ops) => {
        const clock = { now: 0 };
        const board = new CircuitBoard(() => clock.now);
        const inFlight: { ticket: Ticket; since: number }[] = [];
        for (const op of ops) {
          if (op.kind === 'wait') clock.now += op.ms;
          else if (op.kind === 'admit') {
            const ticket = board.admit('svc', 'm', settings);
            if (ticket instanceof CircuitOpenError) {
              expect(board.report()[0]?.status).not.toBe('closed');
              continue;
            }
            if (ticket.probe) {
              const freshProbes = inFlight.filter((f) => f.ticket.probe && clock.now - f.since < settings.cooldownMs);
              expect(freshProbes).toEqual([]);
            }
            inFlight.push({ ticket, since: clock.now });
          } else if (inFlight.length > 0) {
            const [done] = inFlight.splice(op.index % inFlight.length, 1);
            board.settle(done!.ticket, op.outcome, 'x');
          }
        }
      }),
      { seed: 77, numRuns: 300 },
    );
  });
});

// ---- the guard on a registry ------------------------------------------------------------------

function context(overrides: Partial<ConnectorContext> = {}): ConnectorContext {
  return { taskId: 't-1', step: 's', attempt: 1, idempotencyKey: 'k', signal: new AbortController().signal, options: {}, ...overrides };
}

/** A workspace-style connector whose method does what the test says, counting the calls that reach it. */
function flaky() {
  const reached: string[] = [];
  let behaviour: () => Promise<unknown> = async () => ({ ok: true });
  const connector: Connector = {
    name: 'crm',
    source: 'connectors/crm.mjs',
    methods: {
      find: async () => {
        reached.push('find');
        return behaviour();
      },
    },
  };
  return {
    reached,
    connector,
    set: (fn: () => Promise<unknown>) => {
      behaviour = fn;
    },
  };
}

describe('circuitGuard on a registry', () => {
  it('calls while open never reach the connector; the probe does, and its success closes the circuit', async () => {
    const { board, clock } = boardAt();
    const crm = flaky();
    const registry = new ConnectorRegistry([crm.connector]).guardedBy(circuitGuard(board, () => SETTINGS));
    crm.set(async () => {
      throw new Error('503 Service Unavailable');
    });
    for (let i = 0; i < 3; i++) await expect(registry.call('crm', 'find', {}, context())).rejects.toThrow('503 Service Unavailable');
    expect(crm.reached).toHaveLength(3);
    await expect(registry.call('crm', 'find', {}, context())).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(registry.call('crm', 'find', {}, context())).rejects.toThrow(
      /connectors\.crm\.find: circuit open after 3 consecutive failures \(last: 503 Service Unavailable\)/,
    );
    expect(crm.reached).toHaveLength(3);
    clock.now = 1000;
    crm.set(async () => ({ found: 1 }));
    await expect(registry.call('crm', 'find', {}, context())).resolves.toEqual({ found: 1 });
    expect(crm.reached).toHaveLength(4);
    expect(board.report()[0]?.status).toBe('closed');
  });

  it('4xx answers, bad calls and calls cancelled by their caller do not count; 5xx, 408 and 429 do', async () => {
    const { board } = boardAt();
    const crm = flaky();
    const registry = new ConnectorRegistry([crm.connector]).guardedBy(circuitGuard(board, () => ({ failures: 1, cooldownMs: 1000 })));
    const failures = () => board.report()[0]?.consecutiveFailures ?? 0;

    crm.set(async () => {
      throw new HttpError('GET', 'http://crm/x', 404, 'Not Found', '');
    });
    await expect(registry.call('crm', 'find', {}, context())).rejects.toBeInstanceOf(HttpError);
    crm.set(async () => {
      throw new ConnectorError('crm', 'find', 'bad argument `id`');
    });
    await expect(registry.call('crm', 'find', {}, context())).rejects.toBeInstanceOf(ConnectorError);
    // Rejected before the connector: never counted, never reached.
    await expect(registry.call('crm', 'nope', {}, context())).rejects.toBeInstanceOf(ConnectorError);
    const controller = new AbortController();
    crm.set(async () => {
      controller.abort(new Error('stopped'));
      throw new Error('stopped');
    });
    await expect(registry.call('crm', 'find', {}, context({ signal: controller.signal }))).rejects.toThrow('stopped');
    expect(failures()).toBe(0);
    expect(board.report()[0]?.status).toBe('closed');

    for (const status of [500, 408, 429]) {
      const fresh = boardAt();
      const guarded = new ConnectorRegistry([crm.connector]).guardedBy(
        circuitGuard(fresh.board, () => ({ failures: 1, cooldownMs: 1000 })),
      );
      crm.set(async () => {
        throw new HttpError('GET', 'http://crm/x', status, '', '');
      });
      await expect(guarded.call('crm', 'find', {}, context())).rejects.toBeInstanceOf(HttpError);
      expect(fresh.board.report()[0]?.status).toBe('open');
    }
  });

  it('built-ins have no circuit unless configured; a configured fetch counts 5xx answers it returns', async () => {
    const { board } = boardAt();
    const server = await import('node:http').then(({ createServer }) => createServer((_req, res) => res.writeHead(503).end('down')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      const unconfigured = new ConnectorRegistry().guardedBy(circuitGuard(board, () => undefined));
      for (let i = 0; i < 6; i++)
        await expect(unconfigured.call('fetch', 'get', { url }, context())).resolves.toMatchObject({ status: 503 });
      expect(board.report()).toEqual([]);

      const configured = new ConnectorRegistry().guardedBy(
        circuitGuard(board, (name) => (name === 'fetch' ? { failures: 2, cooldownMs: 60_000 } : undefined)),
      );
      await expect(configured.call('fetch', 'get', { url }, context())).resolves.toMatchObject({ status: 503 });
      await expect(configured.call('fetch', 'get', { url }, context())).resolves.toMatchObject({ status: 503 });
      await expect(configured.call('fetch', 'get', { url }, context())).rejects.toThrow(
        /circuit open after 2 consecutive failures \(last: answered with status 503\)/,
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('chainGuards runs the outer guard around the inner one, so a rejection by the circuit is seen outside', async () => {
    const { board } = boardAt();
    const crm = flaky();
    const seen: string[] = [];
    const outer: ConnectorCallGuard = {
      async run(c, invoke) {
        try {
          return await invoke();
        } catch (error) {
          seen.push(`${c.connector}.${c.method}: ${(error as Error).name}`);
          throw error;
        }
      },
    };
    const registry = new ConnectorRegistry([crm.connector]).guardedBy(
      chainGuards(
        outer,
        circuitGuard(board, () => ({ failures: 1, cooldownMs: 1000 })),
      ),
    );
    crm.set(async () => {
      throw new Error('down');
    });
    await expect(registry.call('crm', 'find', {}, context())).rejects.toThrow('down');
    await expect(registry.call('crm', 'find', {}, context())).rejects.toBeInstanceOf(CircuitOpenError);
    expect(seen).toEqual(['crm.find: Error', 'crm.find: CircuitOpenError']);
  });
});

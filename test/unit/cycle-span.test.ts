import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { startCycleSpan, traceCyclesWith } from '../../src/workflows/cycle-span';
import { openTelemetryCycleSpan } from '../../src/workflows/traced-cycle-span';

/**
 * The cycle span against the OpenTelemetry API, as the workflow sandbox has it: with no provider
 * registered (tracing off) and with one plus a context manager (what Temporal's workflow interceptors
 * register when tracing is on).
 */
describe('cycle span', () => {
  afterEach(() => {
    trace.disable();
    context.disable();
  });

  it('untraced (no tracing interceptors installed a factory): runs what it is given, nothing else', async () => {
    const span = startCycleSpan({ taskId: 't-1', cycle: 1, steps: ['a'] });
    expect(await span.activate(async () => 'scheduled')).toBe('scheduled');
    expect(() => span.end({ step: 'a', message: 'broke' })).not.toThrow();
  });

  it('the tracing interceptors install the factory every cycle span comes from', () => {
    const made: number[] = [];
    traceCyclesWith((facts) => {
      made.push(facts.cycle);
      return { activate: (schedule) => schedule(), end() {} };
    });
    startCycleSpan({ taskId: 't-1', cycle: 4, steps: ['a'] });
    traceCyclesWith(openTelemetryCycleSpan);
    expect(made).toEqual([4]);
  });

  it('OpenTelemetry without a tracer provider: a no-op that returns what it runs', async () => {
    const span = openTelemetryCycleSpan({ taskId: 't-1', cycle: 1, steps: ['a'] });
    expect(await span.activate(async () => 'scheduled')).toBe('scheduled');
    expect(trace.getActiveSpan()).toBeUndefined();
    expect(() => span.end({ step: 'a', message: 'broke' })).not.toThrow();
  });

  it('with one: a child of the active span, active while the steps are scheduled, ended with the outcome', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    const tracer = trace.getTracer('test');

    await tracer.startActiveSpan('RunWorkflow:taskWorkflow', async (task) => {
      const first = openTelemetryCycleSpan({ taskId: 't-1', cycle: 1, steps: ['a', 'b'], position: { index: 2, of: 3 } });
      // Scheduling an activity reads the active context, also after an await.
      const scheduledUnder = await first.activate(async () => {
        await Promise.resolve();
        return trace.getActiveSpan()?.spanContext().spanId;
      });
      first.end(null);
      const second = openTelemetryCycleSpan({ taskId: 't-1', cycle: 2, steps: ['c'] });
      second.activate(() => undefined);
      second.end({ step: 'c', message: 'the ledger is locked' });
      // Outside `activate` the task's span is active again.
      expect(trace.getActiveSpan()).toBe(task);
      task.end();

      const [cycle1, cycle2] = exporter.getFinishedSpans().filter((s) => s.name === 'whenflow.cycle');
      expect(scheduledUnder).toBe(cycle1!.spanContext().spanId);
      expect(cycle1!.parentSpanId).toBe(task.spanContext().spanId);
      expect(cycle2!.parentSpanId).toBe(task.spanContext().spanId);
      expect(cycle1!.attributes).toEqual({
        'whenflow.task_id': 't-1',
        'whenflow.cycle': 1,
        'whenflow.steps': ['a', 'b'],
        'whenflow.sequence_index': 2,
        'whenflow.sequence_length': 3,
      });
      expect(cycle1!.status.code).toBe(SpanStatusCode.UNSET);
      expect(cycle2!.attributes).toEqual({
        'whenflow.task_id': 't-1',
        'whenflow.cycle': 2,
        'whenflow.steps': ['c'],
        'whenflow.failed_step': 'c',
      });
      expect(cycle2!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'step c failed: the ledger is locked' });
    });
  });
});

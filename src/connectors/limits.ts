/**
 * Per-connector limits on calls in flight at once (`connectors.<name>.maxConcurrent` in whenflow.yaml),
 * for one worker: shared by every task it runs and every reading of the workspace configuration.
 *
 * Calls over the limit wait in FIFO order. A waiting call whose caller gives up (its step is cancelled
 * or times out) leaves the queue at once and rejects with the abort reason. A call that was sent keeps
 * its slot until it settles, even when its caller gave up: the request may still be at the service.
 */
import PQueue from 'p-queue';

export interface LimitReport {
  connector: string;
  /** The limit in force; null when whenflow.yaml no longer sets one but calls sent under it are still out. */
  limit: number | null;
  /** Calls sent and not settled yet. */
  inFlight: number;
  /** Calls waiting for a slot. */
  waiting: number;
}

interface Lane {
  queue: PQueue;
  limit: number | null;
}

export class ConnectorLimits {
  private readonly lanes = new Map<string, Lane>();

  /**
   * Runs `send` once fewer than `limit` calls to `connector` are in flight (at once when `limit` is
   * undefined). The limit may change between calls (whenflow.yaml was edited): it applies from then on.
   */
  async run<T>(connector: string, limit: number | undefined, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    const lane = this.lane(connector, limit);
    if (!lane) return send();
    // The caller's signal only matters while waiting: p-queue would otherwise free the slot when a
    // running call is aborted, before the call settles, and let one more call reach the service.
    const waiting = new AbortController();
    const leaveQueue = () => waiting.abort(signal.reason);
    if (signal.aborted) leaveQueue();
    else signal.addEventListener('abort', leaveQueue, { once: true });
    try {
      return await lane.queue.add(
        () => {
          signal.removeEventListener('abort', leaveQueue);
          return send();
        },
        { signal: waiting.signal },
      );
    } finally {
      signal.removeEventListener('abort', leaveQueue);
    }
  }

  /** Every connector with a limit, or with calls still out under one it no longer has, by name. */
  report(): LimitReport[] {
    return [...this.lanes.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([connector, { queue, limit }]) => ({ connector, limit, inFlight: queue.pending, waiting: queue.size }))
      .filter((r) => r.limit !== null || r.inFlight > 0 || r.waiting > 0);
  }

  private lane(connector: string, limit: number | undefined): Lane | null {
    const lane = this.lanes.get(connector);
    if (limit === undefined) {
      if (lane) {
        // The limit was removed: the calls waiting under it go now; the lane is dropped once idle.
        lane.limit = null;
        lane.queue.concurrency = Number.POSITIVE_INFINITY;
        if (lane.queue.pending === 0 && lane.queue.size === 0) this.lanes.delete(connector);
      }
      return null;
    }
    if (!lane) {
      const created = { queue: new PQueue({ concurrency: limit }), limit };
      this.lanes.set(connector, created);
      return created;
    }
    if (lane.limit !== limit) {
      lane.limit = limit;
      lane.queue.concurrency = limit; // a raised limit starts waiting calls at once
    }
    return lane;
  }
}

import type { TaskEvent, TaskEventBody, TaskEventPage } from '../model/events';
import type { TaskState } from '../model/task';
import { EVENTS_KEPT } from '../model/defaults';

/** Most events a query answers at once; a reader pages with its cursor. */
export const EVENTS_PAGE = 500;
/**
 * Past this many windows of its own events, a run drops its oldest ones even though it cannot continue
 * as new (something stayed in flight the whole time); memory stays bounded at the price of a gap.
 */
const HARD_LIMIT_WINDOWS = 4;

/** The stream as a continued-as-new run receives it. */
export interface CarriedEvents {
  events: TaskEvent[];
  next: number;
}

/**
 * A task's event stream: numbered, bounded, durable. It lives in workflow state, so it survives worker
 * restarts (replay rebuilds it), and each run hands every event it recorded to the next run's input, so
 * events older than the current run's window stay readable from the first history event of earlier runs.
 */
export class EventLog {
  private events: TaskEvent[] = [];
  private nextSeq = 1;
  /** Sequence number of this run's first event. */
  private runStart = 1;

  constructor(
    private readonly kept: number = EVENTS_KEPT,
    private readonly now: () => number = Date.now,
  ) {}

  static resume(carried: CarriedEvents, kept?: number, now?: () => number): EventLog {
    const log = new EventLog(kept, now);
    log.events = [...carried.events];
    log.nextSeq = carried.next;
    log.runStart = carried.next;
    return log;
  }

  append(body: TaskEventBody): TaskEvent {
    const event = { ...body, seq: this.nextSeq++, at: new Date(this.now()).toISOString() } as TaskEvent;
    this.events.push(event);
    this.trim();
    return event;
  }

  /** Events with a sequence number above `after`, at most `limit` of them. */
  page(after: number, state: TaskState, limit = EVENTS_PAGE): TaskEventPage {
    const first = this.events.findIndex((event) => event.seq > after);
    const events = first < 0 ? [] : this.events.slice(first, first + Math.max(1, limit));
    return { events, oldest: this.oldest, next: this.nextSeq, state };
  }

  get oldest(): number {
    return this.events[0]?.seq ?? this.nextSeq;
  }

  /** Events recorded by this run; a run that has recorded a full window should continue as new. */
  get recordedThisRun(): number {
    return this.nextSeq - this.runStart;
  }

  get isFull(): boolean {
    return this.recordedThisRun >= this.kept;
  }

  /** Every event of this run, topped up with older ones to a full window. */
  carry(): CarriedEvents {
    const ownCount = this.events.filter((event) => event.seq >= this.runStart).length;
    return { events: this.events.slice(-Math.max(this.kept, ownCount)), next: this.nextSeq };
  }

  /** Older carried events go first; this run's own events only past the hard limit. */
  private trim(): void {
    const excess = this.events.length - this.kept;
    if (excess <= 0) return;
    const carriedIn = this.events.findIndex((event) => event.seq >= this.runStart);
    const droppable = carriedIn < 0 ? this.events.length : carriedIn;
    const own = this.events.length - droppable;
    const drop = Math.min(excess, droppable) + Math.max(0, own - HARD_LIMIT_WINDOWS * this.kept);
    if (drop > 0) this.events.splice(0, drop);
  }
}

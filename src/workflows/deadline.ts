import * as wf from '@temporalio/workflow';
import type { TaskBook } from '../cycle/task-book';

/** `task.timeout(ms)`: a durable timer; a later call replaces an earlier deadline. */
export class Deadline {
  private generation = 0;
  /** Workflow time at which the task expires, or null. */
  at: number | null = null;

  constructor(private readonly task: TaskBook) {}

  set(ms: number): void {
    this.setAt(Date.now() + ms);
  }

  setAt(at: number): void {
    const generation = ++this.generation;
    this.at = at;
    void wf.sleep(Math.max(1, at - Date.now())).then(() => {
      if (generation !== this.generation) return;
      this.at = null;
      this.task.expire();
    });
  }
}

import Table from 'cli-table3';
import pc from 'picocolors';

/** A plain table for people; colors only where picocolors allows them (TTY, no NO_COLOR). */
export function table(head: string[], rows: string[][]): string {
  const t = new Table({ head: head.map((h) => pc.bold(h)), style: { head: [], border: [] } });
  t.push(...rows);
  return t.toString();
}

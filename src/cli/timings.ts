/**
 * A phase log for start-up work: with WHENFLOW_TIMINGS=1, each call writes one line to stderr (stdout stays
 * the command's own) with the milliseconds since the process started and the CPU time the process has
 * used so far, all its threads together (on a loaded machine, wall time says little on its own).
 */
const enabled = process.env.WHENFLOW_TIMINGS === '1';

export function phase(name: string): void {
  if (!enabled) return;
  const { user, system } = process.cpuUsage();
  process.stderr.write(
    `whenflow timings: ${performance.now().toFixed(0).padStart(6)} ms  cpu ${((user + system) / 1000).toFixed(0).padStart(6)} ms  ${name}\n`,
  );
}

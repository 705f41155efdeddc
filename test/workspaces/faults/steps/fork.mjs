// A subtask the task waits for; the child counts in its own data.
export const condition = { job: { stage: 'fork' } };
export const content = async () => {
  await connectors.probe.mark({ phase: 'begin', at: data.count });
  await connectors.utils.sleep({ ms: 150 });
  data.count += 1;
  data.log.push('fork');
  task.subtask('faults child', { child: { n: data.job.n }, count: 0, log: [] }, { into: 'job.child', waitFor: true });
  data.job.stage = 'joined';
  await connectors.probe.mark({ phase: 'end', at: data.count - 1 });
};

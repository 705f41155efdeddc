// A redo loop: runs job.n times, once per cycle.
export const condition = { job: { stage: 'loop', i: Number } };
export const content = async () => {
  await connectors.probe.mark({ phase: 'begin', at: data.count });
  await connectors.utils.sleep({ ms: 150 });
  data.count += 1;
  data.log.push(`loop ${data.job.i}`);
  data.job.i += 1;
  if (data.job.i < data.job.n) step.redo();
  else data.job.stage = 'fork';
  await connectors.probe.mark({ phase: 'end', at: data.count - 1 });
};

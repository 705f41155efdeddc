// Every step: marks its start, takes a moment (a window for a worker to die in), applies its data
// effect (one count, one log entry), marks its end.
export const condition = { job: { stage: 'new' } };
export const content = async () => {
  await connectors.probe.mark({ phase: 'begin', at: data.count });
  await connectors.utils.sleep({ ms: 150 });
  data.count += 1;
  data.log.push('begin');
  data.job.stage = 'loop';
  data.job.i = 0;
  await connectors.probe.mark({ phase: 'end', at: data.count - 1 });
};

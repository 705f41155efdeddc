export const condition = { job: { stage: 'sealed' } };
export const content = async () => {
  await connectors.probe.mark({ phase: 'begin', at: data.count });
  await connectors.utils.sleep({ ms: 150 });
  data.count += 1;
  data.log.push('finish');
  task.complete({ count: data.count, child: data.job.child.result });
  await connectors.probe.mark({ phase: 'end', at: data.count - 1 });
};

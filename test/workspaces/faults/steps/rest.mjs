// Parks on a durable timer after the subtask ended.
export const condition = { job: { stage: 'joined', child: { state: 'done' } } };
export const content = async () => {
  await connectors.probe.mark({ phase: 'begin', at: data.count });
  await connectors.utils.sleep({ ms: 150 });
  data.count += 1;
  data.log.push(`rest after child ${data.job.child.result}`);
  data.job.stage = 'rested';
  task.park('300ms');
  await connectors.probe.mark({ phase: 'end', at: data.count - 1 });
};

export const condition = { child: { n: Number, done: null } };
export const content = async () => {
  await connectors.probe.mark({ phase: 'begin', at: data.count });
  await connectors.utils.sleep({ ms: 150 });
  data.count += 1;
  data.log.push('child');
  data.child.done = true;
  task.complete(data.child.n * 10);
  await connectors.probe.mark({ phase: 'end', at: data.count - 1 });
};

// Reads a secret and leaves a derived one: both must stay sealed in every history.
export const condition = { job: { stage: 'rested' }, $stash: { token: String } };
export const content = async () => {
  await connectors.probe.mark({ phase: 'begin', at: data.count });
  await connectors.utils.sleep({ ms: 150 });
  data.count += 1;
  data.log.push('seal');
  data.job.tokenLength = data.$stash.token.length;
  data.$stash.derived = `${data.$stash.token}-derived`;
  data.job.stage = 'sealed';
  await connectors.probe.mark({ phase: 'end', at: data.count - 1 });
};

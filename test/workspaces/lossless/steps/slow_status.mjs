export const condition = { race: { status: 'new', api: String } };
export const content = async () => {
  // Tells the test it is running, so that the test's update arrives while it runs.
  await connectors.svc.send({ api: data.race.api, what: 'race started' });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  data.race.status = 'from step';
  data.race.stepDone = true;
};

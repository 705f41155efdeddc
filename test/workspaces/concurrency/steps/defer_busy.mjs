// One deferred call to the limited connector: it takes a slot like calls inside steps.
export const condition = { job: { via: 'deferred' }, asked: null };
export const content = async () => {
  connectors.busy.work({ n: 0, into: 'answer' });
  data.asked = true;
};

export const condition = { child: { n: Number } };
export const content = async () => {
  if (data.child.fail) throw new Error(`item ${data.child.n} cannot be processed`);
  if (data.child.api) await connectors.fetch.request({ url: `${data.child.api}/work?n=${data.child.n}` });
  task.complete(data.child.n * 2);
};

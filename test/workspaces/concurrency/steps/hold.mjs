// A step that holds for `ms` at the service (to see whether two steps overlap).
export const condition = { hold: { ms: Number } };
export const content = async () => {
  task.complete(await connectors.slow.hold({ ms: data.hold.ms }));
};

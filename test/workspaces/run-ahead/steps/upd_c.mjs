/** Holds until the test's server answers (the test updates the task meanwhile); long timeout, one attempt. */
export const condition = { upd: { b: true } };
export const options = { timeout: '60s', retry: { maximumAttempts: 1 } };
export const content = async () => {
  data.upd.held = await lib.http.ask(`${data.upd.url}/${step.name}`);
  data.upd.c = true;
};

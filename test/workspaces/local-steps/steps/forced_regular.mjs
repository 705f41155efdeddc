/** Short, but declared a regular activity. */
export const condition = { forced: { wanted: true } };
export const options = { timeout: '5s', local: false };
export const content = async () => {
  data.forced.wanted = false;
};

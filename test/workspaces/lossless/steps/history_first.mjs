export const condition = { history: Array, first: null };
export const options = { priority: 2 };
export const content = async () => {
  data.history.push('first');
  data.first = true;
};

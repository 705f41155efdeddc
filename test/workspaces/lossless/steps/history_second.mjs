export const condition = { history: Array, second: null };
export const options = { priority: 1 };
export const content = async () => {
  data.sawBefore = [...data.history];
  data.history.push('second');
  data.second = true;
};

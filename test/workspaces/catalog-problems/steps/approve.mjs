/** Reads a misspelt key: the data holds `approval`. */
export const condition = { aproval: { approved: true }, expense: { paid: null } };

export const content = async () => {
  data.expense.paid = true;
};

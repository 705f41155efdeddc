// Reads task data while the file loads: not possible, the message must show the reference form.
export const condition = { batch: { index: { $lt: data.companies.length } } };
export const content = async () => {};

export const condition = {
export const content = async () => {};

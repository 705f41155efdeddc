export const condition = { lookup: { contact: { id: String } } };
export const content = async () => {
  task.complete(data.lookup.contact.id);
};

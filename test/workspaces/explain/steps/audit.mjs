/** A general step that matches every order: it ranks below the more specific steps that match too. */
export const condition = { order: { status: String } };

export const content = async () => {
  data.audited = (data.audited ?? 0) + 1;
};

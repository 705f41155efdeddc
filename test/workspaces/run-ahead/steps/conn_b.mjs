/** Calls a connector inside its content: running ahead ends with this step. */
export const condition = { conn: { a: true } };
export const content = async () => {
  data.conn.answer = await connectors.probe.hit({ url: data.conn.url, what: step.name });
  data.conn.b = true;
};

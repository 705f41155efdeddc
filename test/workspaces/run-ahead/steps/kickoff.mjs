/**
 * A regular activity that starts the scenario named by `go`: the catalog load does not run it ahead, so the
 * scenario's first step runs in a local activity of its own, and the steps after it run ahead from there.
 */
export const condition = { go: String };
export const options = { local: false };
export const content = async () => {
  data[data.go] = { ...data[data.go], start: true };
  delete data.go;
};

/**
 * `task.id` in step content: callable (`task.id()`), and usable as the ID string itself, as hosted
 * workspaces write it (`parentTaskId: task.id`, `` `${task.id}` ``). Written into task data, subtask data
 * or connector arguments it becomes the string (see toJson and jsonArgs); `String(task.id)`,
 * `JSON.stringify` and template literals give the string too.
 */
const STRING_VALUE = Symbol('whenflow.stringValue');

export type TaskIdValue = (() => string) & { readonly [STRING_VALUE]: string; toString(): string; valueOf(): string; toJSON(): string };

export function taskIdValue(id: string): TaskIdValue {
  const value = () => id;
  Object.defineProperties(value, {
    [STRING_VALUE]: { value: id },
    toString: { value: () => id },
    valueOf: { value: () => id },
    toJSON: { value: () => id },
    [Symbol.toPrimitive]: { value: () => id },
    length: { value: id.length },
  });
  return value as TaskIdValue;
}

/** The string a value made by taskIdValue stands for; undefined for anything else. */
export function stringValueOf(value: unknown): string | undefined {
  return typeof value === 'function' && STRING_VALUE in value ? (value as TaskIdValue)[STRING_VALUE] : undefined;
}

/** The task queue of a worker started without one (the client and the worker share it without loading each other). */
export const DEFAULT_TASK_QUEUE = 'whenflow';

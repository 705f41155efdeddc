export { compileCondition } from './compile';
export { createMatcher, explainMismatch } from './match';
export {
  ConditionError,
  type CompiledCondition,
  type CompiledLeaf,
  type ConditionProblem,
  type Matcher,
  type Mismatch,
} from './types';
export { RECOGNIZE_WORK_LIMIT, WorkLimitError, withWorkLimit } from './work-meter';

/**
 * Workflow patches: each guards a change of what the task workflow records, so that runs recorded before the
 * change replay as they were recorded. How and when each is retired: docs/versioning.md.
 */

/** Runs recorded before the event stream had a bounded window never continued as new because of it. */
export const EVENT_WINDOW_PATCH = 'event-window-continue-as-new';
/** Runs recorded before a stop cancelled running step activities and connector calls. */
export const STOP_CANCELS_PATCH = 'stop-cancels-in-flight-work';
/** Runs recorded before the catalog was read by a local activity read it with a regular one. */
export const CATALOG_LOCAL_PATCH = 'catalog-local-activity';
/** Runs recorded before a task adopted the search attributes it was started with upserted them again. */
export const START_ATTRIBUTES_PATCH = 'start-attributes-adopted';
/** Runs recorded before short steps ran as local activities scheduled every step as a regular activity. */
export const LOCAL_STEPS_PATCH = 'local-step-activities';
/**
 * Runs recorded before this decided on local steps at their first local step (LOCAL_STEPS_PATCH). Decided
 * there, the marker could land in the workflow task after the catalog's, where a replay does not find it.
 */
export const LOCAL_STEPS_AT_START_PATCH = 'local-steps-decided-at-start';

/**
 * The engine's public entry: the four operations that change stores (rotate, sync, resume, rollback) and the
 * dry run that shows rotate's steps (plan), each taking a built EngineContext. Commands and the library call
 * these and nothing deeper; the order of a run lives in the step table (step-table.ts).
 */
export type { EngineContext } from "./context.js";
export { type PlanResult, plan } from "./operations/plan.js";
export { type ResumeOptions, resume } from "./operations/resume.js";
export { type RollbackOptions, rollback } from "./operations/rollback.js";
export { type ConfirmationRequest, type RotateOptions, rotate } from "./operations/rotate.js";
export { type SyncOptions, sync } from "./operations/sync.js";
export type { CommandResult } from "./result.js";
export { FOR_PEOPLE, type PlanAction, type PlanChange, type PlanForPeople, type PlanTarget } from "./step-plans.js";

/** Field-by-field credential equality lives with the providers (providers/toolkit.ts); the engine uses the same. */
export { sameCredential } from "../../providers/toolkit.js";

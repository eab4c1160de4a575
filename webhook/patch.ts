// The webhook answers with the difference between the pod it was sent and the injected pod, as an
// RFC 6902 JSONPatch.
import jsonPatchLib, { type Operation } from 'fast-json-patch';

// fast-json-patch is CommonJS whose named exports Node cannot detect: use its default export.
const { applyPatch, compare } = jsonPatchLib;

export type { Operation };

/** The operations that turn `original` into `mutated`. */
export function jsonPatch(original: object, mutated: object): Operation[] {
  return compare(original, mutated);
}

/** `patch` applied to a copy of `document` (which stays as it was); throws on an invalid patch. */
export function applyJsonPatch<T>(document: T, patch: Operation[]): T {
  return applyPatch(structuredClone(document), patch, true).newDocument;
}

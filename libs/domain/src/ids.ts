/** Node and module IDs: 1–30 US-ASCII letters, digits, `_`, `-`, `.` (DESIGN.md). */
export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,30}$/;
export const ID_MAX_LENGTH = 30;
export const ID_RULE = '1-30 characters of US-ASCII letters, digits, "_", "-" or "."';

/** Returns why `value` is not a valid ID, or null when it is. */
export function idProblem(field: string, value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return `${field} must be ${ID_RULE}`;
  if (value.length > 30) return `${field} must be at most 30 characters (${ID_RULE})`;
  if (!ID_PATTERN.test(value)) return `${field} must be ${ID_RULE}`;
  return null;
}

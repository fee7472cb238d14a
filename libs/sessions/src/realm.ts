/**
 * A realm names a set of sessions: processes whose security modules use the same realm share
 * sessions (single sign-on). 1–100 of letters, digits, `_`, `-`, `.` and `/`.
 */
export const REALM_RULE = '1-100 characters of A-Z a-z 0-9 _ - . /';
const REALM_SHAPE = /^[A-Za-z0-9_./-]{1,100}$/;

/** Why `realm` is not a valid realm, or null when it is. */
export function realmProblem(realm: string): string | null {
  return REALM_SHAPE.test(realm) ? null : `a realm must be ${REALM_RULE}`;
}

/**
 * The realm a security module uses when none is configured: its node and module, so sessions are
 * shared by every process of the node and by nothing else. Node and module IDs never contain "/".
 */
export function defaultRealm(nodeId: string, moduleId: string): string {
  return `${nodeId}/${moduleId}`;
}

/**
 * The realm as one token of a KV key or NATS subject: "." (a token separator) becomes "=", a
 * character realms never contain, so two realms never share a key.
 */
export function realmKey(realm: string): string {
  const problem = realmProblem(realm);
  if (problem) throw new Error(`${problem} (got "${realm}")`);
  return realm.replace(/\./g, '=');
}

/** What the bucket holds for one session (under the key `<realm key>.<session ID>`). */
export interface SessionRecord {
  v: 1;
  user: string;
  /** ms since the epoch. */
  createdAt: number;
  /** Last activity written to the store, ms since the epoch. */
  activeAt: number;
  /** Small non-secret facts the security module keeps with the session. */
  attributes: Record<string, string>;
}

export function encodeRecord(record: SessionRecord): string {
  return JSON.stringify(record);
}

/** The record in a bucket value, or null when the value is not one (it is then ignored). */
export function decodeRecord(text: string): SessionRecord | null {
  let r: Partial<SessionRecord>;
  try {
    r = JSON.parse(text) as Partial<SessionRecord>;
  } catch {
    return null;
  }
  if (
    !r ||
    r.v !== 1 ||
    typeof r.user !== 'string' ||
    typeof r.createdAt !== 'number' ||
    typeof r.activeAt !== 'number'
  )
    return null;
  const attributes: Record<string, string> = {};
  if (r.attributes && typeof r.attributes === 'object')
    for (const [k, v] of Object.entries(r.attributes)) if (typeof v === 'string') attributes[k] = v;
  return { v: 1, user: r.user, createdAt: r.createdAt, activeAt: r.activeAt, attributes };
}

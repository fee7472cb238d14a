/** If-Match named a version the node is no longer (or not yet) at; `actual` is read from the database. */
export class PreconditionFailed extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`If-Match names version ${expected} but the node is at version ${actual}`);
  }
}

import { json } from 'express';
import { IncomingMessage, ServerResponse } from 'node:http';

/** application/json, optionally with a UTF-8 charset: all the fast path takes. */
const PLAIN_JSON = /^application\/json\s*(?:;\s*charset="?utf-8"?\s*)?$/i;

const parserError = (status: number, type: string, message: string) =>
  Object.assign(new Error(message), { status, type });

/**
 * express.json({limit}) with a fast path for what API clients send: a plain application/json
 * body with a Content-Length within the limit. body-parser's general machinery (media-type and
 * charset parsing, stream decoding, inflation) cost about as much as the rest of the middleware
 * chain; compressed, chunked, other charsets and oversized bodies still go through it, so they are
 * answered as before. Errors carry body-parser's `type`, for bodyParserErrors.
 */
export function jsonBody(limit: number) {
  const general = json({ limit });
  return (
    req: IncomingMessage & { body?: unknown },
    res: ServerResponse,
    next: (err?: unknown) => void,
  ) => {
    const { headers } = req;
    const length = headers['content-length'];
    const size = Number(length);
    if (
      req.readableEnded || // parsed already (the properties route's raw parser)
      length === undefined ||
      !(size <= limit) ||
      headers['content-encoding'] !== undefined ||
      headers['transfer-encoding'] !== undefined ||
      !PLAIN_JSON.test(headers['content-type'] ?? '')
    )
      return general(req, res, next);
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    req.once('error', next);
    req.once('end', () => {
      if (received !== size)
        return next(
          parserError(400, 'request.size.invalid', 'request size did not match content length'),
        );
      let text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received)).toString();
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // as body-parser: a BOM is dropped
      const first = /^[ \t\n\r]*([\s\S]|$)/.exec(text)![1];
      if (first === '') {
        req.body = {}; // as body-parser: an empty body is {}
        return next();
      }
      try {
        // strict, as body-parser: only an object or an array
        if (first !== '{' && first !== '[') throw new SyntaxError(`Unexpected token '${first}'`);
        req.body = JSON.parse(text);
      } catch (err) {
        return next(parserError(400, 'entity.parse.failed', (err as Error).message));
      }
      next();
    });
  };
}

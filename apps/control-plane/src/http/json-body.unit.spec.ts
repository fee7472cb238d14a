import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { jsonBody } from './json-body';

const LIMIT = 1024;

/** Runs the parser over a request with these headers and bytes; resolves with body or error. */
function parse(
  bytes: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{ body?: unknown; error?: { status: number; type: string; message: string } }> {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const req = new IncomingMessage(new Socket()) as IncomingMessage & { body?: unknown };
  req.method = 'POST';
  req.headers = {
    'content-type': 'application/json',
    'content-length': String(data.length),
    ...headers,
  };
  const done = new Promise<Awaited<ReturnType<typeof parse>>>((resolve) =>
    jsonBody(LIMIT)(req, new ServerResponse(req), (err?: unknown) =>
      resolve(err ? { error: err as never } : { body: req.body }),
    ),
  );
  req.push(data);
  req.push(null);
  return done;
}

describe('jsonBody', () => {
  it('parses a JSON object body', async () => {
    expect(await parse('{"message":"hi","n":1}')).toEqual({ body: { message: 'hi', n: 1 } });
  });

  it('takes a UTF-8 charset, multibyte text and a leading byte-order mark', async () => {
    const got = await parse('\ufeff {"message":"grüße ✓"}', {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(got).toEqual({ body: { message: 'grüße ✓' } });
  });

  it('reads an empty body as {}', async () => {
    expect(await parse('')).toEqual({ body: {} });
  });

  it('refuses malformed JSON and JSON that is not an object or array, as a parse failure', async () => {
    for (const text of ['{"type": "http-', '"just a string"', '42']) {
      const { error } = await parse(text);
      expect(error).toMatchObject({ status: 400, type: 'entity.parse.failed' });
    }
  });

  it('refuses a body shorter than its Content-Length', async () => {
    const { error } = await parse('{}', { 'content-length': '10' });
    expect(error).toMatchObject({ status: 400, type: 'request.size.invalid' });
  });

  it('refuses a body over the limit with 413 before reading it', async () => {
    const { error } = await parse(JSON.stringify({ message: 'x'.repeat(LIMIT) }));
    expect(error).toMatchObject({ status: 413, type: 'entity.too.large' });
  });

  it('still parses what the fast path leaves to express.json: a gzip-compressed body', async () => {
    const got = await parse(gzipSync('{"message":"compressed"}'), { 'content-encoding': 'gzip' });
    expect(got).toEqual({ body: { message: 'compressed' } });
  });

  it('leaves other media types unparsed', async () => {
    expect(await parse('a=b', { 'content-type': 'text/plain' })).toEqual({ body: undefined });
  });
});

import { HttpException } from '@nestjs/common';
import Fastify, { FastifyInstance } from 'fastify';
import { gzipSync } from 'node:zlib';
import { registerBodyParsers } from './body-parsers';

const LIMIT = 1024;

/** A bare Fastify (in memory, no socket) with the parsers, echoing what a route would get. */
async function server(): Promise<FastifyInstance> {
  const fastify = Fastify({ bodyLimit: LIMIT });
  registerBodyParsers(fastify, {
    limit: LIMIT,
    rawPath: '/file',
    rawMediaTypes: ['text/plain'],
  });
  // As ErrorFilter does: a Nest HttpException keeps its status and message.
  fastify.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) =>
    reply
      .status(err instanceof HttpException ? err.getStatus() : (err.statusCode ?? 500))
      .send({ message: err.message }),
  );
  const echo = async (req: { body: unknown }) => ({
    body: Buffer.isBuffer(req.body) ? { bytes: req.body.toString() } : req.body,
  });
  fastify.post('/json', echo);
  fastify.post('/file', echo);
  await fastify.ready();
  return fastify;
}

describe('registerBodyParsers', () => {
  let fastify: FastifyInstance;
  beforeAll(async () => (fastify = await server()));
  afterAll(() => fastify.close());

  const post = async (
    url: string,
    payload: string | Buffer,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) => {
    const res = await fastify.inject({ method: 'POST', url, payload, headers });
    return { status: res.statusCode, body: res.json() };
  };

  it('parses a JSON object, with a UTF-8 charset, multibyte text and a byte-order mark', async () => {
    expect(await post('/json', '{"message":"hi","n":1}')).toEqual({
      status: 200,
      body: { body: { message: 'hi', n: 1 } },
    });
    const got = await post('/json', '\ufeff {"message":"grüße ✓"}', {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(got.body).toEqual({ body: { message: 'grüße ✓' } });
  });

  it('reads an empty JSON body as {}', async () => {
    expect((await post('/json', '')).body).toEqual({ body: {} });
  });

  it('refuses malformed JSON, and JSON that is not an object or array, with a 400', async () => {
    for (const text of ['{"type": "http-', '"just a string"', '42']) {
      const res = await post('/json', text);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^body is not valid JSON: /);
    }
  });

  it('refuses a body over the limit with 413, also when it only grows that big inflated', async () => {
    const big = JSON.stringify({ message: 'x'.repeat(LIMIT) });
    expect((await post('/json', big)).status).toBe(413);
    const bomb = gzipSync(big);
    expect(bomb.length).toBeLessThan(LIMIT);
    const inflated = await post('/json', bomb, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(inflated.status).toBe(413);
  });

  it('inflates a gzip-compressed body', async () => {
    const got = await post('/json', gzipSync('{"message":"compressed"}'), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(got).toEqual({ status: 200, body: { body: { message: 'compressed' } } });
  });

  it('refuses an encoding it cannot decode with 415', async () => {
    const res = await post('/json', '{}', {
      'content-type': 'application/json',
      'content-encoding': 'zstd',
    });
    expect(res.status).toBe(415);
    expect(res.body.message).toMatch(/Content-Encoding zstd/);
  });

  it('hands the raw bytes of a file to its route only, and refuses other media types', async () => {
    const file = await post('/file', 'node.id=a\n', { 'content-type': 'text/plain' });
    expect(file).toEqual({ status: 200, body: { body: { bytes: 'node.id=a\n' } } });
    expect((await post('/json', 'node.id=a\n', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('/json', '<x/>', { 'content-type': 'application/xml' })).status).toBe(415);
  });
});

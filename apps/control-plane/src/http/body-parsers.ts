import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { Readable, Transform } from 'node:stream';

/** DESIGN.md: bodies over 1 MiB are refused with 413. */
export const BODY_LIMIT = 1024 * 1024;
export const BODY_LIMIT_TEXT = `${BODY_LIMIT / 1024 / 1024} MiB`;

/**
 * The API's JSON: strict (an object or an array, as body-parser's `strict`), a leading byte-order
 * mark dropped, and an empty body read as `{}` (clients send `Content-Type: application/json` on
 * bodyless POSTs such as /start).
 */
export function parseJsonText(text: string): unknown {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const first = /^[ \t\n\r]*([\s\S]|$)/.exec(text)![1];
  if (first === '') return {};
  try {
    if (first !== '{' && first !== '[') throw new SyntaxError(`Unexpected token '${first}'`);
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestException(`body is not valid JSON: ${(err as Error).message}`);
  }
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The body parsers of the admin API: JSON everywhere, and the bytes of a properties file on
 * `rawPath` (its parser decodes them strictly as UTF-8 and names the line of a bad byte). Any
 * other media type is a 415. Bodies over `limit` bytes, compressed or not, are a 413. A
 * compressed body (Content-Encoding gzip, deflate or br) is inflated first, as express.json did.
 */
export function registerBodyParsers(
  fastify: FastifyInstance,
  opts: { limit: number; rawPath: string; rawMediaTypes: string[] },
) {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: opts.limit },
    (_req, text, done) => {
      try {
        done(null, parseJsonText(text as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
  fastify.addContentTypeParser(
    opts.rawMediaTypes,
    { parseAs: 'buffer', bodyLimit: opts.limit },
    (req, bytes, done) => {
      if (req.routeOptions.url !== opts.rawPath)
        return done(
          new UnsupportedMediaTypeException('send the body as application/json'),
          undefined,
        );
      done(null, bytes);
    },
  );
  fastify.addHook('preParsing', async (req, _reply, payload) => {
    const encoding = req.headers['content-encoding']?.trim().toLowerCase();
    if (!encoding || encoding === 'identity') return payload;
    const decoder = DECODERS[encoding];
    if (!decoder)
      throw new UnsupportedMediaTypeException(`Content-Encoding ${encoding} is not supported`);
    // Fastify compares Content-Length with the bytes received, not with the inflated ones.
    const inflated = decoder() as Transform & { receivedEncodedLength: number };
    inflated.receivedEncodedLength = 0;
    (payload as Readable).on('data', (chunk: Buffer) => {
      inflated.receivedEncodedLength += chunk.length;
    });
    return (payload as Readable).pipe(inflated);
  });
}

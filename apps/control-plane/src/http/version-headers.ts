import { BadRequestException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

export const etagOf = (version: number) => `"${version}"`;

/** Reads If-Match (`"5"`, `W/"5"` or `5`); undefined when absent. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!match)
    throw new BadRequestException(`If-Match must be a version ETag such as "5", got ${header}`);
  return Number(match[1]);
}

export function setVersionHeaders(res: FastifyReply, version: number) {
  res.header('ETag', etagOf(version));
}

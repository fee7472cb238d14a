import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  Query,
  Req,
  Res,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ApiAdminAuth,
  ApiAnswer,
  ApiBodyErrors,
  ApiErrors,
  ApiWriteHeaders,
  ETAG_HEADER,
} from '../openapi/api-responses.decorator';
import { ApiIdQuery } from '../openapi/params.decorator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import { CommandContext } from '@plexus/event-store';
import { WriteContext } from '../http/command-context.decorator';
import { setVersionHeaders } from '../http/version-headers';
import { ImportAnswer, PropertiesService } from './properties.service';

/** The route main.ts hands the raw body of a properties file to. */
export const PROPERTIES_PATH = '/module-config/properties';
/** Media types a properties file may be sent and asked for as. */
export const PROPERTIES_MEDIA_TYPES = ['text/plain', 'text/x-java-properties'];

const UTF8 = /^utf-?8$/i;

/** The file's text: bytes are decoded by the parser (strict UTF-8, naming a bad line) unless another charset is named. */
function fileFrom(req: FastifyRequest, body: unknown): string | Uint8Array {
  const contentType = req.headers['content-type'] ?? '';
  const mediaType = contentType.split(';', 1)[0].trim().toLowerCase();
  if (PROPERTIES_MEDIA_TYPES.includes(mediaType)) {
    if (body === undefined || body === null) return '';
    if (!Buffer.isBuffer(body)) throw new BadRequestException('the body is not a properties file');
    const charset = /;\s*charset="?([^";\s]+)"?/i.exec(contentType)?.[1];
    if (!charset || UTF8.test(charset)) return body;
    try {
      return new TextDecoder(charset, { fatal: true }).decode(body);
    } catch (err) {
      if (err instanceof RangeError)
        throw new UnsupportedMediaTypeException(`charset ${charset} is not supported; send UTF-8`);
      throw new BadRequestException(`the body is not valid ${charset}`);
    }
  }
  if (mediaType === 'application/json') {
    const b = body as Record<string, unknown> | undefined;
    if (typeof b !== 'object' || b === null || Array.isArray(b) || typeof b.properties !== 'string')
      throw new BadRequestException('properties must be the text of a properties file');
    const extra = Object.keys(b).find((k) => k !== 'properties');
    if (extra) throw new BadRequestException(`${extra} is not a known field`);
    return b.properties;
  }
  throw new UnsupportedMediaTypeException(
    `send the file as ${PROPERTIES_MEDIA_TYPES.join(' or ')}, or JSON {"properties": "<text>"}`,
  );
}

@ApiTags('module-config')
@ApiAdminAuth()
@Controller('module-config')
export class PropertiesController {
  constructor(private readonly service: PropertiesService) {}

  /** Every live node (or `?nodeId=`) in Smile CDR's properties format, secrets masked. */
  @Get('properties')
  @ApiProduces(...PROPERTIES_MEDIA_TYPES)
  @ApiIdQuery('nodeId', 'this node only (its version in ETag)')
  @ApiResponse({
    status: 200,
    description: 'the properties file, secrets masked; with ?nodeId= ETag is the node version',
    headers: ETAG_HEADER,
    content: Object.fromEntries(
      PROPERTIES_MEDIA_TYPES.map((type) => [
        type,
        {
          schema: {
            type: 'string',
            example: 'node.id=fhir_node\nmodule.fhir_endpoint.type=http-endpoint\n',
          },
        },
      ]),
    ),
  })
  @ApiErrors(400, 404)
  async export(
    @Query('nodeId') nodeId: string | undefined,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<string> {
    const { text, version } = await this.service.export(nodeId);
    const type = new Negotiator(req).mediaType(PROPERTIES_MEDIA_TYPES) ?? PROPERTIES_MEDIA_TYPES[0];
    res.header('Content-Type', `${type}; charset=utf-8`);
    if (version !== undefined) setVersionHeaders(res, version);
    return text;
  }

  /**
   * Makes each node of the file equal its section: new nodes are created, existing ones changed
   * by ordinary events under the caller's name. A bad file or node stores nothing. The answer
   * says per node what changed and per module what became of its type (Smile CDR type names are
   * mapped where Plexus has their meaning, README "Importing Smile CDR files").
   */
  @Post('properties')
  @HttpCode(200)
  @ApiConsumes(...PROPERTIES_MEDIA_TYPES, 'application/json')
  @ApiBody({
    description: 'the properties file (one or more nodes, each from its node.id line)',
    schema: { type: 'string', example: 'node.id=n1\nmodule.web.type=http-endpoint\n' },
  })
  @ApiWriteHeaders()
  @ApiAnswer(200, 'ImportAnswer', 'what the import did to each node and made of each module')
  @ApiBodyErrors()
  @ApiErrors(403, 404, 409)
  async import(
    @Req() req: FastifyRequest,
    @Body() body: unknown,
    @WriteContext() ctx: CommandContext,
  ): Promise<ImportAnswer | Omit<ImportAnswer, 'warnings'>> {
    const { warnings, ...answer } = await this.service.import(fileFrom(req, body), ctx);
    return warnings.length ? { ...answer, warnings } : answer;
  }
}

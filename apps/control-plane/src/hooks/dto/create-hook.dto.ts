import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsIn,
  IsString,
  MaxLength,
  MinLength,
  registerDecorator,
} from 'class-validator';
import { HOOK_EVENT_TYPES } from '@plexus/domain';

const ALLOWED = HOOK_EVENT_TYPES.join(', ');

/** Why `value` is not a URL a hook may POST to, or null. */
export function hookUrlProblem(value: unknown): string | null {
  const rule = 'url must be an http:// or https:// URL without user or password';
  if (typeof value !== 'string' || value.length > 2048) return `${rule}, at most 2048 characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return rule;
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password) return rule;
  return null;
}

function IsHookUrl(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isHookUrl',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value) => hookUrlProblem(value) === null,
        defaultMessage: (args) => hookUrlProblem(args!.value) ?? '',
      },
    });
}

export class CreateHookDto {
  @ApiProperty({ example: 'https://ops.example.com/plexus-events' })
  @IsHookUrl()
  url: string;

  @ApiProperty({
    example: ['ProcessLost', 'ProcessConfigFailed'],
    enum: HOOK_EVENT_TYPES,
    isArray: true,
  })
  @IsArray({ message: `events must be an array of event types: any of ${ALLOWED}` })
  @ArrayNotEmpty({ message: `events must name at least one event type: any of ${ALLOWED}` })
  @ArrayMaxSize(HOOK_EVENT_TYPES.length, {
    message: `events must hold at most ${HOOK_EVENT_TYPES.length} event types`,
  })
  @IsIn(HOOK_EVENT_TYPES as string[], {
    each: true,
    message: `events must hold only these event types: ${ALLOWED}`,
  })
  events: string[];

  @ApiProperty({
    description:
      'key of the HMAC-SHA256 signature of every delivery (X-Plexus-Signature); never shown again',
    minLength: 16,
    writeOnly: true,
  })
  @IsString({ message: 'secret must be a string of at least 16 characters' })
  @MinLength(16, { message: 'secret must be at least 16 characters' })
  @MaxLength(1024, { message: 'secret must be at most 1024 characters' })
  secret: string;
}

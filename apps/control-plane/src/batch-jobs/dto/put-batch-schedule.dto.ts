import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
} from 'class-validator';

export const MAX_EVERY_MS = 366 * 24 * 3600 * 1000;

export class PutBatchScheduleDto {
  @ApiProperty({
    example: 'analyze-tables',
    description: 'a registered job type (GET /batch-job-types)',
  })
  @IsString({ message: 'jobType must be a string naming a registered job type' })
  @Length(1, 100, { message: 'jobType must be 1 to 100 characters' })
  jobType: string;

  @ApiPropertyOptional({ example: {} })
  @IsOptional()
  @IsObject({ message: 'params must be an object of parameter names to values' })
  params?: Record<string, number | string | boolean>;

  @ApiProperty({ example: 3_600_000, description: 'period between due times, in milliseconds' })
  @IsInt({ message: `everyMs must be an integer from 1000 to ${MAX_EVERY_MS}` })
  @Min(1000, { message: `everyMs must be an integer from 1000 to ${MAX_EVERY_MS}` })
  @Max(MAX_EVERY_MS, { message: `everyMs must be an integer from 1000 to ${MAX_EVERY_MS}` })
  everyMs: number;

  @ApiPropertyOptional({ example: true, description: 'false pauses it (default true)' })
  @IsOptional()
  @IsBoolean({ message: 'enabled must be true or false' })
  enabled?: boolean;

  @ApiPropertyOptional({
    example: '2026-01-31T02:00:00Z',
    description: 'first due time (default: one period from now)',
  })
  @IsOptional()
  @IsISO8601(
    { strict: true },
    { message: 'firstDueAt must be an ISO-8601 time such as 2026-01-31T02:00:00Z' },
  )
  firstDueAt?: string;
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, Length } from 'class-validator';

export class SubmitBatchJobDto {
  @ApiProperty({
    example: 'sample-rows',
    description: 'a registered job type (GET /batch-job-types)',
  })
  @IsString({ message: 'jobType must be a string naming a registered job type' })
  @Length(1, 100, { message: 'jobType must be 1 to 100 characters' })
  jobType: string;

  @ApiPropertyOptional({
    example: {},
    description: 'the job type’s params; every built-in type runs with {}',
  })
  @IsOptional()
  @IsObject({ message: 'params must be an object of parameter names to values' })
  params?: Record<string, number | string | boolean>;
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { IsStringMap, STRING_MAP_PROPERTY } from '../../http/string-map';

export class PutModuleDto {
  @ApiProperty({ example: 'http-endpoint' })
  @IsString()
  @Length(1, 100)
  type: string;

  @ApiPropertyOptional({
    ...STRING_MAP_PROPERTY,
    description: 'flat keys to string values, as in a properties file',
    example: { port: '8000', message: 'hello' },
  })
  @IsOptional()
  @IsStringMap()
  config: Record<string, string> = {};

  @ApiPropertyOptional({
    ...STRING_MAP_PROPERTY,
    description: 'role -> module ID of another module of the node',
    example: { SECURITY_IN_UP: 'local_security' },
  })
  @IsOptional()
  @IsStringMap()
  requires: Record<string, string> = {};

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled: boolean = true;

  @ApiPropertyOptional({ enum: ['all', 'single'], default: 'all' })
  @IsOptional()
  @IsIn(['all', 'single'])
  activation: 'all' | 'single' = 'all';
}

import { ApiProperty } from '@nestjs/swagger';
import { IsStringMap, STRING_MAP_PROPERTY } from '../../http/string-map';

export class PutNodeDto {
  @ApiProperty({
    ...STRING_MAP_PROPERTY,
    example: { server_port_offset: '100' },
    description: 'node properties (flat keys)',
  })
  @IsStringMap()
  properties: Record<string, string>;
}

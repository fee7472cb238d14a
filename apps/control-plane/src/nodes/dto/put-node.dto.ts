import { ApiProperty } from '@nestjs/swagger';
import { IsStringMap } from '../../http/string-map';

export class PutNodeDto {
  @ApiProperty({
    example: { server_port_offset: '100' },
    description: 'node properties (flat keys)',
  })
  @IsStringMap()
  properties: Record<string, string>;
}

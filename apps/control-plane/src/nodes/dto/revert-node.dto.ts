import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Length, Min } from 'class-validator';

export class RevertNodeDto {
  @ApiProperty({ example: 3, description: 'the version whose configuration to restore' })
  @IsInt()
  @Min(1)
  toVersion: number;

  @ApiProperty({ example: 'message change broke the load balancer check' })
  @IsString()
  @Length(1, 1000)
  reason: string;
}

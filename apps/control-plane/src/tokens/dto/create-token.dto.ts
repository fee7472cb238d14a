import { ApiProperty } from '@nestjs/swagger';
import { IsIn, Matches } from 'class-validator';
import { ADMIN_ROLES, AdminRole } from '@plexus/event-store';

export class CreateTokenDto {
  @ApiProperty({
    example: 'ci-deployer',
    description: 'the actor recorded in every event this token causes',
  })
  @Matches(/^[A-Za-z0-9_.@-]{1,100}$/, {
    message: 'name must be 1-100 characters of letters, digits, "_", ".", "@" or "-"',
  })
  name: string;

  @ApiProperty({ enum: ADMIN_ROLES })
  @IsIn(ADMIN_ROLES as AdminRole[], { message: 'role must be admin, operator or auditor' })
  role: AdminRole;
}

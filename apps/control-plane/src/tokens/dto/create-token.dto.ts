import { ApiProperty } from '@nestjs/swagger';
import { IsIn, Matches, ValidateBy } from 'class-validator';
import { ADMIN_ROLES, AdminRole } from '@plexus/event-store';
import { isReservedActor } from '../../auth/actors';

const NotReservedActor = () =>
  ValidateBy({
    name: 'notReservedActor',
    validator: {
      validate: (value) => typeof value !== 'string' || !isReservedActor(value),
      defaultMessage: () =>
        'name must not be admin, control-plane or anonymous (in any case): they are actors the audit log records for the bootstrap token, the control plane itself and unauthenticated calls',
    },
  });

export class CreateTokenDto {
  @ApiProperty({
    example: 'ci-deployer',
    description: 'the actor recorded in every event this token causes',
  })
  @Matches(/^[A-Za-z0-9_.@-]{1,100}$/, {
    message: 'name must be 1-100 characters of letters, digits, "_", ".", "@" or "-"',
  })
  @NotReservedActor()
  name: string;

  @ApiProperty({ enum: ADMIN_ROLES })
  @IsIn(ADMIN_ROLES as AdminRole[], { message: 'role must be admin, operator or auditor' })
  role: AdminRole;
}

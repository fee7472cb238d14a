import {
  IsOptional,
  Matches,
  Validate,
  ValidationArguments,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { MAX_TIMEOUT_MINS, REALM_RULE } from '@plexus/sessions';
import { parseUsers } from './passwords';

/** The `users` value parses (problems name entries by position, never by content). */
@ValidatorConstraint({ name: 'usersList' })
export class UsersList implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return typeof value === 'string' && parseUsers(value).problems.length === 0;
  }

  defaultMessage(args: ValidationArguments) {
    if (typeof args.value !== 'string') return 'users must be a string';
    return parseUsers(args.value).problems.join('; ');
  }
}

export const TIMEOUT_RULE = `sessions.timeout.mins must be a positive number of minutes up to ${MAX_TIMEOUT_MINS} (7 days); fractions are allowed, e.g. 0.5`;

/** A positive decimal number of minutes, at most MAX_TIMEOUT_MINS. */
@ValidatorConstraint({ name: 'positiveMinutes' })
export class PositiveMinutes implements ValidatorConstraintInterface {
  validate(value: unknown) {
    if (typeof value !== 'string' || !/^\s*\d{1,6}(\.\d{1,9})?\s*$/.test(value)) return false;
    const n = Number(value);
    return n > 0 && n <= MAX_TIMEOUT_MINS;
  }

  defaultMessage() {
    return TIMEOUT_RULE;
  }
}

export const DEFAULT_TIMEOUT_MINS = 30;

export class LocalSecurityConfig {
  @IsOptional()
  @Validate(UsersList)
  users?: string;

  @IsOptional()
  @Validate(PositiveMinutes)
  'sessions.timeout.mins'?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_./-]{1,100}$/, { message: `sessions.realm must be ${REALM_RULE}` })
  'sessions.realm'?: string;
}

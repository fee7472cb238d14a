import { IsIn, IsOptional, Matches, MaxLength } from 'class-validator';

export const DEFAULT_MAX_TOTAL = 10;
export const DEFAULT_MAX_IDLE = 2;

/** Smile CDR's persistence keys that Plexus uses; the values are strings as in a properties file. */
export class PersistenceConfig {
  @IsOptional()
  @Matches(/^postgres/i, {
    message: 'db.driver must name Postgres: "postgres" or a Smile CDR value such as POSTGRES_9_4',
  })
  'db.driver'?: string;

  @Matches(/^(jdbc:postgresql|postgres|postgresql):\/\/[^\s/]+\/[^\s?/]+(\?\S*)?$/, {
    message:
      'db.url must be a Postgres URL with a database name: postgres://host:5432/db or jdbc:postgresql://host:5432/db',
  })
  'db.url': string;

  @IsOptional()
  @MaxLength(63, { message: 'db.username must be at most 63 characters' })
  'db.username'?: string;

  @IsOptional()
  @MaxLength(1000, { message: 'db.password must be at most 1000 characters' })
  'db.password'?: string;

  @IsOptional()
  @Matches(/^\s*(0|[1-9]\d{0,2})\s*$/, {
    message: 'db.connectionpool.maxidle must be an integer from 0 to 999',
  })
  'db.connectionpool.maxidle'?: string;

  @IsOptional()
  @Matches(/^\s*[1-9]\d{0,2}\s*$/, {
    message: 'db.connectionpool.maxtotal must be an integer from 1 to 999',
  })
  'db.connectionpool.maxtotal'?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'read_only_mode.enabled must be true or false' })
  'read_only_mode.enabled'?: string;
}

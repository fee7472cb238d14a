import { IsOptional, IsString, Matches } from 'class-validator';

export class LocalIndexConfig {
  /** Directory of the index on this host's disk; default: a folder per node and module under the OS temp dir. */
  @IsOptional()
  @IsString()
  @Matches(/^\S.*$/, { message: 'index.path must be a directory path' })
  'index.path'?: string;
}

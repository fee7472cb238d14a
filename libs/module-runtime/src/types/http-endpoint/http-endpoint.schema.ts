import { IsIP, IsOptional, IsPort, IsString, MaxLength } from 'class-validator';

export class HttpEndpointConfig {
  @IsPort({ message: 'port must be an integer from 0 to 65535' })
  port: string;

  @IsOptional()
  @IsString()
  @MaxLength(1000)
  message?: string;

  @IsOptional()
  @IsIP(undefined, { message: 'bind_address must be an IPv4 or IPv6 address' })
  bind_address?: string;
}

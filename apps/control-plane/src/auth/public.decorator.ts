import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'plexus:public';
/** Routes a load balancer or a browser reads without a token (health, API docs). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

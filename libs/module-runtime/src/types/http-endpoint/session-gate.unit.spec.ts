import * as http from 'node:http';
import { bearerToken } from './session-gate';

const req = (...rawHeaders: string[]) => ({ rawHeaders }) as unknown as http.IncomingMessage;
const token = 'A'.repeat(43);

describe('bearerToken', () => {
  it.each([
    [['Authorization', `Bearer ${token}`], token],
    [['authorization', `bearer ${token}`], token],
    [['AUTHORIZATION', `BEARER   ${token}  `], token],
    [['Host', 'x', 'Authorization', `Bearer ${token}`], token],
  ])('reads %j', (headers, expected) => {
    expect(bearerToken(req(...headers))).toBe(expected);
  });

  it.each([
    [[]],
    [['Authorization', `Basic ${token}`]],
    [['Authorization', 'Bearer ']],
    [['Authorization', `Bearer ${token} extra`]],
    [['Authorization', `Bearer ${'x'.repeat(600)}`]],
    [['X-Authorization', `Bearer ${token}`]],
  ])('finds none in %j', (headers) => {
    expect(bearerToken(req(...headers))).toBeNull();
  });
});

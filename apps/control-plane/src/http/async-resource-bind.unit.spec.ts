import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { installFastAsyncResourceBind } from './async-resource-bind';

describe('installFastAsyncResourceBind', () => {
  beforeAll(() => installFastAsyncResourceBind());

  it("runs the bound function in the resource's async context, with the caller's this", () => {
    const als = new AsyncLocalStorage<string>();
    function f(this: unknown, a: number, b: number) {
      return [this, a, b, als.getStore()];
    }
    const bound = als.run('request', () => new AsyncResource('test').bind(f));
    expect(als.run('other', () => bound.call('me', 1, 2))).toEqual(['me', 1, 2, 'request']);
    expect(bound.length).toBe(2);
  });

  it('binds thisArg when given', () => {
    const resource = new AsyncResource('test') as unknown as {
      bind(fn: () => unknown, thisArg: unknown): () => unknown;
    }; // (@types/node 20 leaves thisArg out)
    const bound = resource.bind(function (this: unknown) {
      return this;
    }, 'fixed');
    expect(bound.call('ignored')).toBe('fixed');
  });

  it('keeps the (deprecated) asyncResource property', () => {
    const resource = new AsyncResource('test');
    const bound = resource.bind(() => 1) as (() => number) & { asyncResource: unknown };
    // (warns DEP0172 once, as Node's does)
    expect(Object.keys(bound)).toEqual(['asyncResource']);
    expect(bound.asyncResource).toBe(resource);
    bound.asyncResource = 'other';
    expect(bound.asyncResource).toBe('other');
  });

  it("refuses a non-function as Node's bind does", () => {
    expect(() => new AsyncResource('test').bind(3 as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

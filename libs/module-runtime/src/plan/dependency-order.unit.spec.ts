import { StringMap } from '@plexus/domain';
import { dependencyOrder, restartOrder, shutdownOrder } from './dependency-order';

const m = (moduleId: string, requires: StringMap = {}) => ({ moduleId, requires });

describe('dependencyOrder', () => {
  it('puts every module after what it requires; ties keep the given order', () => {
    expect(dependencyOrder([m('web', { DB: 'db' }), m('other'), m('db')])).toEqual([
      'db',
      'web',
      'other',
    ]);
  });

  it('breaks a cycle instead of looping', () => {
    expect(dependencyOrder([m('a', { X: 'b' }), m('b', { X: 'a' })])).toEqual(['b', 'a']);
  });
});

describe('shutdownOrder', () => {
  it('stops dependents before what they require', () => {
    expect(shutdownOrder([m('db'), m('web', { DB: 'db' }), m('proxy', { WEB: 'web' })])).toEqual([
      'proxy',
      'web',
      'db',
    ]);
  });
});

describe('restartOrder', () => {
  it('stops what requires the module, directly or not, first and the module last; nothing else', () => {
    // given a chain db <- web <- proxy, a second dependent of db and an unrelated module
    const running = [
      m('db'),
      m('web', { DB: 'db' }),
      m('other'),
      m('proxy', { WEB: 'web' }),
      m('jobs', { DB: 'db' }),
    ];
    // when db must restart, then its dependents stop first, the unrelated module not at all
    expect(restartOrder(running, 'db')).toEqual(['jobs', 'proxy', 'web', 'db']);
    // when a module nothing requires restarts, then only it stops
    expect(restartOrder(running, 'proxy')).toEqual(['proxy']);
  });
});

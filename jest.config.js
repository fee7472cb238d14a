// One project per test tier, chosen by file name (emmett's convention).
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

// What the tiers' control planes leave on the shared NATS is purged once every file is done.
const sharedNatsCleanup = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

module.exports = {
  // Per-project testTimeout is not applied by jest 30; the default fits integration tests.
  testTimeout: 30_000,
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,examples}/**/*.unit.spec.ts'],
    },
    {
      ...base,
      ...sharedNatsCleanup,
      displayName: 'int',
      testMatch: ['<rootDir>/{apps,libs,test,examples}/**/*.int.spec.ts'],
    },
    {
      ...base,
      ...sharedNatsCleanup,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e.spec.ts'],
    },
  ],
};

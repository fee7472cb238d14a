/* global URL */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/*
 * The layers of DESIGN.md ("Layout and dependency rules"), enforced with the core
 * no-restricted-imports rule. ESLint does not merge a rule's options across config blocks (the
 * last block matching a file wins), so every file is matched by exactly one layer below, and
 * each layer lists all of its restrictions.
 */

/** Folder names of our libs (libs/<name>), from the @plexus/<name> path aliases. */
const tsconfig = JSON.parse(readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8'));
const LIBS = Object.keys(tsconfig.compilerOptions.paths).map((alias) => alias.split('/')[1]);

/** A restriction allowing no lib of ours but these. */
const onlyLibs = (...allowed) => ({
  patterns: [
    {
      group: ['@plexus/*', ...allowed.map((name) => `!@plexus/${name}`)],
      message: `This lib imports no lib of ours but ${allowed.join(' and ')}.`,
    },
  ],
});

const restrictions = {
  /** Everyone: a lib is used through its index, never its files. */
  throughIndex: {
    patterns: [
      { group: ['@plexus/*/**'], message: 'Import a lib through its index: @plexus/<lib>.' },
      {
        regex: '^(\\.\\./)+libs(/|$)',
        message: 'Import a lib through its index (@plexus/<lib>), never by a relative path.',
      },
    ],
  },
  /** A lib's files reach no other lib by a relative path (from libs/<lib>/src/**). */
  noRelativeLib: {
    patterns: [
      {
        regex: `^(\\.\\./){2,}(${LIBS.join('|')})/src(/|$)`,
        message: 'Import another lib through its index (@plexus/<lib>), never by a relative path.',
      },
    ],
  },
  /**
   * Production code of libs and apps reaches no folder at the repository root (from
   * {apps,libs}/<name>/src/**): no other app, no test fixture, no migrations outside their lib.
   */
  noRepoFolders: {
    patterns: [
      {
        regex: '^(\\.\\./){3,}(apps|test|bench|scripts|migrations)(/|$)',
        message: 'Libs and apps import libs (@plexus/<lib>) and their own files only.',
      },
    ],
  },
  ourLibs: {
    patterns: [{ group: ['@plexus/*'], message: 'This lib depends on no other lib of ours.' }],
  },
  /** Leaf libs that use only the language helpers and the domain's types. */
  onlyCommon: onlyLibs('common'),
  onlyCommonAndDomain: onlyLibs('common', 'domain'),
  io: {
    paths: [
      ...builtinModules.map((name) => ({
        name,
        message: 'libs/domain is pure: no I/O (Node built-ins).',
      })),
      ...['nats', 'pg', 'typeorm', 'pino', 'opossum', 'prom-client', 'nestjs-pino'].map((name) => ({
        name,
        message: 'libs/domain is pure: no framework, driver or I/O library.',
      })),
    ],
    patterns: [
      {
        group: ['node:*', '@nestjs/*', '@fastify/*', 'pg-*', 'nats/*', 'typeorm/*'],
        message: 'libs/domain is pure: no framework, driver or I/O library.',
      },
    ],
  },
  noDatabase: {
    paths: ['@plexus/event-store', 'pg', 'typeorm'].map((name) => ({
      name,
      message:
        'A worker (and what it runs) needs no database of ours. Only the persistence module type ' +
        "talks to a module's own database, through @plexus/batch-jobs.",
    })),
    patterns: [{ group: ['pg-*', 'typeorm/*'], message: 'A worker needs no database of ours.' }],
  },
  /** The console runs in a browser: no Node built-ins, no lib of ours (they are Node code). */
  browser: {
    paths: builtinModules.map((name) => ({
      name,
      message: 'The console runs in a browser and talks to the admin API over HTTP only.',
    })),
    patterns: [
      {
        group: [
          'node:*',
          '@plexus/*',
          '@nestjs/*',
          '@fastify/*',
          'nats',
          'nats/*',
          'pg',
          'typeorm',
        ],
        message: 'The console runs in a browser and talks to the admin API over HTTP only.',
      },
    ],
  },
  noBus: {
    paths: ['@plexus/bus', 'nats'].map((name) => ({
      name,
      message:
        'The event store knows Postgres only; the relay publishes through a RelaySink that the ' +
        'control plane wires to NATS.',
    })),
    patterns: [{ group: ['nats/*'], message: 'The event store knows Postgres only.' }],
  },
};

/**
 * Every app and lib with the restrictions of its layer. Besides these, apps and libs import libs
 * through their index only, and their production files reach no root folder (spec files may use
 * the fixtures in test/support). A new lib needs a line here.
 */
const LAYERS = {
  // Depends on nothing of ours: everything may import it.
  'libs/common': ['ourLibs'],
  // A package users install: it depends on nothing of ours.
  'libs/module-sdk': ['ourLibs'],
  // Pure: no framework, driver, I/O or other lib.
  'libs/domain': ['ourLibs', 'io'],
  // Postgres only; NATS is the bus's business.
  'libs/event-store': ['noBus'],
  // A worker (and the supervisor that runs workers, and the libs they use) needs no database.
  'libs/module-runtime': ['noDatabase'],
  'libs/config': ['noDatabase'],
  'libs/bus': ['noDatabase'],
  'libs/sessions': ['noDatabase'],
  'apps/worker': ['noDatabase'],
  'apps/supervisor': ['noDatabase'],
  // An HTTP client of the admin API: no database and no bus of ours.
  'apps/cli': ['noDatabase', 'noBus'],
  // Leaves: they know Postgres or files, not the rest of Plexus.
  'libs/batch-jobs': ['onlyCommon'],
  'libs/properties': ['onlyCommonAndDomain'],
  'libs/secrets-crypto': ['ourLibs'],
  'apps/control-plane': [],
  // A browser app: the admin API over HTTP, and the API's generated types (type imports only).
  'apps/console': ['browser'],
};
const unlisted = [
  ...LIBS.map((name) => `libs/${name}`),
  ...readdirSync(new URL('./apps', import.meta.url)).map((name) => `apps/${name}`),
].filter((folder) => !(folder in LAYERS));
if (unlisted.length) throw new Error(`eslint.config.mjs: add ${unlisted.join(', ')} to LAYERS`);

const importRule = (names) => [
  'error',
  {
    paths: names.flatMap((n) => restrictions[n].paths ?? []),
    patterns: names.flatMap((n) => restrictions[n].patterns ?? []),
  },
];

const layerConfigs = Object.entries(LAYERS).flatMap(([folder, names]) => {
  const own = [...names, 'throughIndex', ...(folder.startsWith('libs/') ? ['noRelativeLib'] : [])];
  const specs = `${folder}/**/*.spec.ts`;
  return [
    {
      files: [`${folder}/**/*.{ts,tsx}`],
      ignores: [specs],
      rules: { 'no-restricted-imports': importRule([...own, 'noRepoFolders']) },
    },
    { files: [specs], rules: { 'no-restricted-imports': importRule(own) } },
  ];
});

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  ...layerConfigs,
  {
    // The console's build config runs in Node, not in the browser.
    files: ['apps/console/vite.config.mts'],
    languageOptions: { globals: { process: 'readonly' } },
  },
  {
    files: ['bench/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', restrictions.throughIndex] },
  },
);

import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // libs/domain stays pure: no framework, driver or other lib.
    files: ['libs/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@nestjs/*', 'typeorm', 'pg', 'nats', '@plexus/*', 'node:*'] }],
    },
  },
  {
    // A worker (and the supervisor that runs workers) needs no database.
    files: ['apps/worker/**/*.ts', 'apps/supervisor/**/*.ts', 'libs/config/**/*.ts', 'libs/module-runtime/**/*.ts', 'libs/bus/**/*.ts', 'libs/sessions/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@plexus/event-store', 'typeorm', 'pg'] }],
    },
  },
);

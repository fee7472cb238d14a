import { JobTypeRegistry, paramsProblems, withDefaults } from './job-types';
import { BUILT_IN_JOB_TYPES } from './built-in';

describe('job params', () => {
  const schema = {
    rows: { type: 'integer' as const, description: 'rows', default: 10, minimum: 1, maximum: 100 },
    table: { type: 'string' as const, description: 'table', pattern: '[a-z_]+' },
    dryRun: { type: 'boolean' as const, description: 'dry run' },
  };

  it('accepts no params and fills in the defaults', () => {
    expect(paramsProblems(schema, {})).toEqual([]);
    expect(paramsProblems(schema, undefined)).toEqual([]);
    expect(withDefaults(schema, {})).toEqual({ rows: 10 });
    expect(withDefaults(schema, { rows: 3 })).toEqual({ rows: 3 });
  });

  it('names the field and the rule for each bad value', () => {
    expect(
      paramsProblems(schema, { rows: 0, table: 'Bad-Name', dryRun: 'yes', colour: 'red' }),
    ).toEqual([
      'params.rows must be an integer from 1 to 100',
      'params.table must be a string matching [a-z_]+',
      'params.dryRun must be true or false',
      'params.colour is not a parameter of this job type (known: rows, table, dryRun)',
    ]);
    expect(paramsProblems(schema, [1])).toEqual([
      'params must be an object of parameter names to values',
    ]);
  });

  it('knows the built-in types, each runnable with params {}', () => {
    const registry = new JobTypeRegistry(BUILT_IN_JOB_TYPES);
    expect(registry.list().map((t) => t.name)).toEqual(['sample-rows', 'analyze-tables']);
    for (const t of registry.list()) expect(registry.problems(t.name, {})).toEqual([]);
    expect(registry.problems('nope', {})).toEqual([
      'jobType "nope" is not a registered job type (known: sample-rows, analyze-tables)',
    ]);
    expect(registry.problems(undefined, {})).toEqual(['jobType must be a non-empty string']);
  });

  it('refuses a job type registered twice', () => {
    expect(() => new JobTypeRegistry([...BUILT_IN_JOB_TYPES, BUILT_IN_JOB_TYPES[0]])).toThrow(
      'job type sample-rows is registered twice',
    );
  });
});

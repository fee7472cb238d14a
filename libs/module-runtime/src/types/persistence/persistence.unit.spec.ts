import { builtInModuleTypes } from '../../built-in-types';
import { isSecretKey } from '@plexus/domain';

describe('persistence module config', () => {
  const type = builtInModuleTypes().get('persistence')!;
  const valid = {
    'db.driver': 'POSTGRES_9_4',
    'db.url': 'jdbc:postgresql://db-fhir.internal:5432/cdr_fhir',
    'db.username': 'cdr',
    'db.password': 'secret pass',
    'db.connectionpool.maxidle': '2',
    'db.connectionpool.maxtotal': '8',
    'read_only_mode.enabled': 'false',
  };

  it("accepts Smile CDR's keys, with JDBC or postgres URLs", () => {
    expect(type.validateConfig(valid)).toEqual([]);
    expect(type.validateConfig({ 'db.url': 'postgres://127.0.0.1:5432/fhir' })).toEqual([]);
  });

  it('names the key and the rule for each bad value', () => {
    expect(
      type.validateConfig({
        'db.driver': 'ORACLE_12C',
        'db.url': 'jdbc:oracle:thin:@host:1521:db',
        'db.connectionpool.maxtotal': '0',
        'read_only_mode.enabled': 'yes',
        'db.schema_update_mode': 'UPDATE',
      }),
    ).toEqual(
      expect.arrayContaining([
        'config.db.driver must name Postgres: "postgres" or a Smile CDR value such as POSTGRES_9_4',
        'config.db.url must be a Postgres URL with a database name: postgres://host:5432/db or jdbc:postgresql://host:5432/db',
        'config.db.connectionpool.maxtotal must be an integer from 1 to 999',
        'config.read_only_mode.enabled must be true or false',
        'config.db.schema_update_mode is not a key of this module type',
      ]),
    );
    expect(type.validateConfig({ 'db.url': 'postgres://h/db' }).length).toBe(0);
    expect(type.validateConfig({})).toEqual(['config.db.url is required']);
  });

  it('refuses credentials inside db.url, pointing at db.password', () => {
    for (const url of [
      'postgres://cdr:s3cret@db-fhir.internal:5432/cdr_fhir',
      'postgresql://cdr:@db/cdr',
      'jdbc:postgresql://cdr:s3cret@db:5432/cdr',
      'jdbc:postgresql://db:5432/cdr?user=cdr&password=s3cret',
      'jdbc:postgresql://db:5432/cdr?ssl=true&PASSWORD=s3cret',
      'postgres://db/cdr?password=s3cret',
      'postgres://db/cdr?sslmode=verify-full&sslpassword=s3cret',
    ])
      expect(type.validateConfig({ ...valid, 'db.url': url })).toEqual([
        'config.db.url must not hold credentials (user:password@ or password=): ' +
          'put the password in db.password (kept secret) and the user in db.username',
      ]);
    // a user name alone is no secret; nor is a query option that merely ends in "password"
    expect(
      type.validateConfig({ ...valid, 'db.url': 'postgres://cdr@db:5432/cdr?sslpassword_hint=x' }),
    ).toEqual([]);
  });

  it('refuses more idle connections than connections', () => {
    expect(
      type.validateConfig({
        ...valid,
        'db.connectionpool.maxidle': '9',
        'db.connectionpool.maxtotal': '8',
      }),
    ).toEqual([
      'config.db.connectionpool.maxidle (9) must not exceed db.connectionpool.maxtotal (8)',
    ]);
  });

  it('keeps db.password secret and brings the built-in job types', () => {
    expect(type.secretKeys).toEqual(['db.password']);
    const catalog = builtInModuleTypes();
    expect(isSecretKey('db.password', type.secretKeys)).toBe(true);
    expect(
      catalog
        .jobTypes()
        .list()
        .map((t) => t.name),
    ).toEqual(['sample-rows', 'analyze-tables']);
  });
});

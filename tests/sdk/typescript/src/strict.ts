// The strict check of an SDK answer at run time: the body against a JSON schema generated from the
// SDK's own declared response type (ts-json-schema-generator over the package's .d.ts files), with
// every required field present, every type and enum right, and no field the type does not declare
// except the ones listed with the reason in ../convene-extras.json (shared with the Python tests).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { createGenerator, type SchemaGenerator } from 'ts-json-schema-generator';

const require = createRequire(import.meta.url);
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The directory of the SDK's RealtimeKit types, where the schemas are generated from. */
const TYPES = join(dirname(require.resolve('cloudflare')), 'resources', 'realtime-kit');

const EXTRAS_FILE = new URL('../../convene-extras.json', import.meta.url);
const EXTRAS: Record<string, { why: string; paths: string[] }> = JSON.parse(
  readFileSync(EXTRAS_FILE, 'utf8'),
).extras;

let generator: SchemaGenerator | undefined;
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const validators = new Map<string, ValidateFunction>();

/** The validator of the SDK's declared type `typeName` (e.g. `MeetingCreateResponse`). */
function validatorFor(typeName: string): ValidateFunction {
  let validate = validators.get(typeName);
  if (!validate) {
    generator ??= createGenerator({
      path: join(TYPES, 'index.d.ts'),
      tsconfig: undefined,
      skipTypeCheck: true,
      additionalProperties: false,
      expose: 'all',
      topRef: false,
      jsDoc: 'none',
    });
    validate = ajv.compile(generator.createSchema(typeName));
    validators.set(typeName, validate);
  }
  return validate;
}

/** `/data/0/config` → `$.data[*].config`: the path form of convene-extras.json. */
function extrasPath(instancePath: string, property: string): string {
  const steps = instancePath
    .split('/')
    .slice(1)
    .map((step) => (/^\d+$/.test(step) ? '[*]' : `.${step}`));
  return `$${steps.join('')}.${property}`;
}

/** What is wrong with `body` as the SDK's `typeName`: a line per error, none when it holds. */
export function violations(typeName: string, body: unknown): string[] {
  const validate = validatorFor(typeName);
  if (validate(body)) return [];
  const allowed = new Set(EXTRAS[typeName]?.paths ?? []);
  const errors: ErrorObject[] = validate.errors ?? [];
  const unexplained = errors.filter((error) => {
    if (error.keyword !== 'additionalProperties') return true;
    const property = (error.params as { additionalProperty: string }).additionalProperty;
    return !allowed.has(extrasPath(error.instancePath, property));
  });
  // Only allowed extra fields failed: the body holds once they are set aside.
  if (unexplained.length === 0) return [];
  return unexplained.map((error) => `${error.instancePath || '$'} ${error.message} ${JSON.stringify(error.params)}`);
}

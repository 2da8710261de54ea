// Writes policies/schema/policy.schema.json, collector/policy/schema-document.ts and
// collector/policy/schema-validator.ts from schema.ts (`npm run schema`).

import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { PolicySchema, policyJsonSchema, schemaDocumentModule } from './schema.js';

/** Write the JSON Schema to `path`; returns the path. */
export async function writePolicySchema(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, policyJsonSchema());
  return path;
}

/** The schema file's place in the repository (works from source and from dist/). */
export function defaultSchemaPath(): string {
  const here = fileURLToPath(import.meta.url);
  const root = here.includes('/dist/') ? here.slice(0, here.lastIndexOf('/dist/')) : here.slice(0, here.lastIndexOf('/collector/'));
  return `${root}/policies/schema/policy.schema.json`;
}

/** The generated module's place: collector/policy/schema-document.ts in the repository. */
export function schemaDocumentPath(): string {
  return defaultSchemaPath().replace(/policies\/schema\/policy\.schema\.json$/, 'collector/policy/schema-document.ts');
}

/** The generated validator's place: collector/policy/schema-validator.ts in the repository. */
export function schemaValidatorPath(): string {
  return schemaDocumentPath().replace(/schema-document\.ts$/, 'schema-validator.ts');
}

/** The ajv options of the policy validator: all errors, each with its schema (messages quote its description). */
export const POLICY_AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, allowUnionTypes: true } as const;

/**
 * The policy validator as ajv's standalone code (ajv's "standalone validation code"), as
 * an ES module: compiling the schema at every start took ajv about 80 ms, and loading ajv's
 * compiler more. ajv writes `require()` for its few run-time helpers even in ESM output;
 * they become imports here.
 */
export function schemaValidatorModule(): string {
  // the object schema-document.ts holds: TypeBox's own (symbol) keys left out
  const schema = JSON.parse(JSON.stringify(PolicySchema)) as Record<string, unknown>;
  const ajv = new Ajv({ ...POLICY_AJV_OPTIONS, code: { source: true, esm: true } });
  // a CommonJS module whose function is both the module and its `default`
  const standalone = (standaloneModule as unknown as { default: (ajv: Ajv, fn: unknown) => string }).default;
  let code = standalone(ajv, ajv.compile(schema));
  const imports: string[] = [];
  code = code.replace(/require\("(ajv\/dist\/runtime\/[\w-]+)"\)/g, (_m: string, path: string) => {
    const name = `runtime${imports.length}`;
    imports.push(`import ${name} from '${path}.js';`);
    return name;
  });
  return '// Generated from schema.ts by `npm run schema`; do not edit (test/unit/policy/schema.test.ts\n' +
    '// fails when it differs). The policy\'s JSON Schema compiled by ajv ahead of time.\n' +
    '// @ts-nocheck\n' +
    '/* eslint-disable */\n' +
    imports.map((l) => `${l}\n`).join('') +
    `${code}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writePolicySchema(process.argv[2] ?? defaultSchemaPath()).then((p) => console.log(`wrote ${p}`));
  writeFile(schemaDocumentPath(), schemaDocumentModule()).then(() => console.log(`wrote ${schemaDocumentPath()}`));
  writeFile(schemaValidatorPath(), schemaValidatorModule()).then(() => console.log(`wrote ${schemaValidatorPath()}`));
}

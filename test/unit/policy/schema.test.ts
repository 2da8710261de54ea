// The published JSON Schema is generated from collector/policy/schema.ts and kept in step.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { PolicySchema, policyJsonSchema, schemaDocumentModule } from '../../../collector/policy/schema.js';
import { POLICY_SCHEMA } from '../../../collector/policy/schema-document.js';
import { defaultSchemaPath, schemaDocumentPath, writePolicySchema } from '../../../collector/policy/write-schema.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

t.test('committed policies/schema/policy.schema.json equals the generated one', async (t) => {
  t.equal(defaultSchemaPath(), `${root}policies/schema/policy.schema.json`);
  const committed = await readFile(`${root}policies/schema/policy.schema.json`, 'utf8');
  t.equal(committed, policyJsonSchema(), 'run `npm run schema` after changing collector/policy/schema.ts');
});

t.test('committed schema-document.ts (the loader\'s copy) equals the generated one', async (t) => {
  t.equal(schemaDocumentPath(), `${root}collector/policy/schema-document.ts`);
  const committed = await readFile(schemaDocumentPath(), 'utf8');
  t.equal(committed, schemaDocumentModule(), 'run `npm run schema` after changing collector/policy/schema.ts');
  t.same(POLICY_SCHEMA, JSON.parse(JSON.stringify(PolicySchema)), 'the same schema as TypeBox builds');
  t.same({ $schema: 'http://json-schema.org/draft-07/schema#', ...POLICY_SCHEMA }, JSON.parse(policyJsonSchema()), 'and as published');
});

t.test('the published schema alone validates the example and refuses unknown keys', async (t) => {
  const schema = JSON.parse(policyJsonSchema());
  t.equal(schema.additionalProperties, false);
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const doc = parse(await readFile(`${root}policies/site.example.yaml`, 'utf8'));
  t.ok(validate(doc), JSON.stringify(validate.errors));
  doc.profiles.camera.allow[0].tpo = 'x';
  t.notOk(validate(doc));
  t.equal(validate.errors?.[0].keyword, 'additionalProperties');
});

t.test('writePolicySchema writes the same text', async (t) => {
  const dir = t.testdir({});
  const p = await writePolicySchema(`${dir}/s/policy.schema.json`);
  t.equal(await readFile(p, 'utf8'), policyJsonSchema());
});

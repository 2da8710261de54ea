// The published JSON Schema is generated from collector/policy/schema.ts and kept in step.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { PolicySchema, policyJsonSchema, schemaDocumentModule } from '../../../collector/policy/schema.js';
import { POLICY_SCHEMA } from '../../../collector/policy/schema-document.js';
import { defaultSchemaPath, POLICY_AJV_OPTIONS, schemaDocumentPath, schemaValidatorModule, schemaValidatorPath, writePolicySchema } from '../../../collector/policy/write-schema.js';
import { makeSchemaValidator } from '../../../collector/policy/validate.js';

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

t.test('committed schema-validator.ts (ajv\'s standalone code) equals the generated one', async (t) => {
  t.equal(schemaValidatorPath(), `${root}collector/policy/schema-validator.ts`);
  const committed = await readFile(schemaValidatorPath(), 'utf8');
  t.equal(committed, schemaValidatorModule(), 'run `npm run schema` after changing collector/policy/schema.ts or upgrading ajv');
});

t.test('the precompiled validator reports what ajv compiling the schema at run time reports', async (t) => {
  const runtime = new Ajv(POLICY_AJV_OPTIONS).compile(POLICY_SCHEMA);
  const standalone = makeSchemaValidator();
  const good = parse(await readFile(`${root}policies/site.example.yaml`, 'utf8'));
  const bad = JSON.parse(JSON.stringify(good));
  bad.version = 2;
  bad.watch = [];
  bad.vlan = 5000;
  bad.profiles.camera.allow[0].tpo = 'x';
  bad.profiles.camera.allow.push({ service: 'telnet' }, 'text', { to: 7 });
  bad.devices.push({ name: '', mac: 5 });
  bad['bad key!'] = 1;
  for (const doc of [good, bad, null, [], 'text']) {
    t.equal(standalone(doc), runtime(doc));
    // errors refer to schema parts: compare them as JSON (the objects themselves differ)
    t.same(JSON.parse(JSON.stringify(standalone.errors ?? null)), JSON.parse(JSON.stringify(runtime.errors ?? null)));
  }
  t.notOk(standalone(bad));
  t.ok((standalone.errors ?? []).length >= 7, 'every error of the bad document, not only the first');
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

// Writes policies/schema/policy.schema.json and collector/policy/schema-document.ts from
// schema.ts (`npm run schema`).

import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyJsonSchema, schemaDocumentModule } from './schema.js';

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

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writePolicySchema(process.argv[2] ?? defaultSchemaPath()).then((p) => console.log(`wrote ${p}`));
  writeFile(schemaDocumentPath(), schemaDocumentModule()).then(() => console.log(`wrote ${schemaDocumentPath()}`));
}

// Writes policies/schema/policy.schema.json from schema.ts (`npm run schema`).

import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyJsonSchema } from './schema.js';

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

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writePolicySchema(process.argv[2] ?? defaultSchemaPath()).then((p) => console.log(`wrote ${p}`));
}

// The YAML parser with positions and the JSON Schema validator, loaded at first use: a valid
// policy is read by fast-yaml.ts and schema-check.ts alone, and importing these two cost
// about 0.13 s of every `replay` (a tenth of its run on the bench's capture).

import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');
type AjvModule = typeof import('ajv');

const require = createRequire(import.meta.url);
let yamlModule: YamlModule | undefined;
let ajvModule: AjvModule | undefined;

export function yaml(): YamlModule {
  return (yamlModule ??= require('yaml') as YamlModule);
}

export function ajv(): AjvModule {
  return (ajvModule ??= require('ajv') as AjvModule);
}

// The `yaml` package, loaded at its first use: a policy served from the policy cache (cache.ts)
// is never parsed, and loading the package's seventy-odd modules costs a start-up about 25 ms.
// Its entry for Node is CommonJS, so require() and an `import` elsewhere share one instance.

import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let mod: Yaml | undefined;

export function yaml(): Yaml {
  return mod ??= createRequire(import.meta.url)('yaml') as Yaml;
}

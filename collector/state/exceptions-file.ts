// exceptions.yaml in the state directory: the exceptions an admin accepted through the API
// (`POST /api/v1/anomalies/:id/ack`). The policy file is never rewritten (the systemd unit
// keeps /etc read-only); the watcher loads this file beside it. Comments and entries written
// by hand are kept; the file is replaced atomically (write, fsync, rename).

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { YAMLSeq } from 'yaml';
import { yaml } from '../policy/yaml-lazy.js';
import type { ExceptionDoc } from '../policy/exceptions.js';

export const EXCEPTIONS_FILE = 'exceptions.yaml';

const HEADER = `# Accepted behaviours, written by segwatch when an anomaly is acknowledged through the API
# (POST /api/v1/anomalies/:id/ack). Loaded beside the policy; same fields as its exceptions:
# device, kind, peer, port (globs), comment (required), until (a date). Edit with care:
# segwatch refuses the policy reload when this file is not valid.
exceptions: []
`;

/** Appends one exception; throws (with the reason) when the file cannot be read or written. */
export function appendException(path: string, entry: ExceptionDoc): void {
  const { isSeq, parseDocument, YAMLSeq } = yaml();
  const text = existsSync(path) ? readFileSync(path, 'utf8') : HEADER;
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`${path} is not valid YAML (${doc.errors[0].message.split('\n')[0]}): fix it first`);
  let seq = doc.get('exceptions', true);
  if (!isSeq(seq)) {
    seq = new YAMLSeq();
    doc.set('exceptions', seq);
  }
  const node = doc.createNode(Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined && v !== '')));
  (seq as YAMLSeq).flow = false;
  (seq as YAMLSeq).items.push(node);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o640);
  try {
    writeSync(fd, doc.toString());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

// Maps a path inside the policy (["profiles","camera","allow",0,"to"]) back to the YAML
// node it came from, so every error can name its file, line and column.

import type { Document, LineCounter, Node } from 'yaml';
import { yaml } from './yaml-lazy.js';
import type { PolicyError } from './types.js';

export type PathSeg = string | number;

/** "profiles.camera.allow[0].to" */
export function dottedPath(path: readonly PathSeg[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}

export class Locator {
  constructor(private doc: Document, private lc: LineCounter, readonly file: string) {}

  /** The node at `path` (its key when `key`), or the deepest existing ancestor. */
  private node(path: readonly PathSeg[], key: boolean): Node | null {
    const { isAlias, isMap, isScalar, isSeq } = yaml();
    let node: unknown = this.doc.contents;
    let last: Node | null = (node as Node) ?? null;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      // inside an alias (*name) the place to fix is the anchored node (&name)
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) return last;
        if (i === path.length - 1 && key) return (pair.key as Node) ?? last;
        // `to:` with nothing after it has no value node: point at the key
        node = pair.value ?? pair.key;
        if (pair.value == null) return (pair.key as Node) ?? last;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (node == null) return last;
      } else {
        return last;
      }
      last = node as Node;
    }
    return last;
  }

  pos(path: readonly PathSeg[], key = false): { line: number; col: number } {
    const n = this.node(path, key);
    const off = n?.range?.[0] ?? 0;
    return this.lc.linePos(off);
  }

  error(path: readonly PathSeg[], message: string, key = false): PolicyError {
    const { line, col } = this.pos(path, key);
    return { file: this.file, line, col, message, path: dottedPath(path) };
  }
}

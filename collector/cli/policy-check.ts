// `segwatch policy check FILE`: validate a policy; every error as file:line:column: message.

import { policyCheck } from '../policy/check.js';
import { parseCommand, helpText, type CommandSpec } from './args.js';

export const policyCheckSpec: CommandSpec = {
  name: 'policy check',
  usage: 'segwatch policy check FILE',
  summary: 'Validate a policy file against the policy language; exit 0 when valid, 1 with every error listed when not.',
  flags: {},
};

export async function policyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'check') {
    process.stderr.write(`${helpText(policyCheckSpec)}\n`);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const a = parseCommand(policyCheckSpec, rest);
  if (a.help) { process.stdout.write(helpText(policyCheckSpec) + '\n'); return 0; }
  const file = a.positionals[0];
  if (!file) { process.stderr.write(helpText(policyCheckSpec) + '\n'); return 2; }
  return policyCheck(file, (l) => process.stdout.write(l + '\n'), (l) => process.stderr.write(l + '\n'));
}

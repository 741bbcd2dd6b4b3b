/**
 * The application switch (cutover and rollback) from the action inputs: which kind, and the
 * settings that kind needs, refused with one line when one is missing.
 */
import { usageError } from '../../src/errors.js';
import type { OptionName } from '../../src/options/index.js';
import { makeSwitch, type Switch, type SwitchKind } from '../../src/switch/switch.js';
import type { Logger } from '../../src/log/logger.js';
import { input, inputText } from './inputs.js';

function need(name: OptionName, kind: SwitchKind): string {
  const v = inputText(name);
  if (!v)
    throw usageError(`switch ${kind} needs input '${name}'`, `set ${name} (in the workflow: the environment's variable or secret for it)`);
  return v;
}

export function switchFromInputs(logger: Logger): Switch {
  const kind: SwitchKind = input('switch')!;
  switch (kind) {
    case 'pgbouncer':
      return makeSwitch({
        kind,
        adminUrl: need('pgbouncer-admin-url', kind),
        iniPath: need('pgbouncer-ini', kind),
        dbEntry: need('pgbouncer-db', kind),
        logger,
      });
    case 'env-file':
      return makeSwitch({
        kind,
        path: need('env-file', kind),
        key: input('env-key'),
        restartCommand: inputText('restart-command'),
        logger,
      });
    case 'command':
      return makeSwitch({ kind, command: need('switch-command', kind), logger });
    case 'none':
      return makeSwitch({ kind, logger });
  }
}

// Settings of the node's worker processes (issue 13): how many processes serve
// one node. See ./index.ts for how to add a setting, src/workers/ for the design.

import { count } from '../kinds.js';
import { setting } from '../setting.js';

export const workers = setting({
  kind: count({ min: 0, max: 256 }),
  default: 0,
  flag: 'workers',
  defaultText: '0 (one per core)',
  help:
    'Worker processes serving this node as one cache (a supervising primary restarts them); 0: one per core; ' +
    '1: a single process, no primary. Memory and disk budgets are split among the workers.',
});

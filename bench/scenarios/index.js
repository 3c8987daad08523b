// Every scenario, in the order the report lists them.
import getMany from './get-many.js';
import getOrSetHit from './get-or-set-hit.js';
import l1Hit from './l1-hit.js';
import l2Hit from './l2-hit.js';
import memory from './memory.js';
import propagation from './propagation.js';
import redisDown from './redis-down.js';
import set from './set.js';
import stampede from './stampede.js';

export const cases = [
  ...l1Hit,
  ...l2Hit,
  ...set,
  ...getMany,
  ...getOrSetHit,
  ...stampede,
  ...propagation,
  ...redisDown,
  ...memory,
];

export function caseNamed(id) {
  const found = cases.find((c) => c.id === id);
  if (!found) throw new Error(`unknown scenario ${id}`);
  return found;
}

import { createHash } from 'node:crypto';
import type { L2Driver } from './redis/driver.js';

/** A Lua script run by its SHA1, so that its body crosses the network only when Redis lacks it. */
export class Script {
  readonly sha: string;
  constructor(readonly text: string) {
    this.sha = createHash('sha1').update(text).digest('hex');
  }

  /** EVALSHA, falling back to EVAL once when Redis does not know the script yet (restart, SCRIPT FLUSH). */
  async run<T>(l2: L2Driver, keys: string[], args: string[]): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await l2.command<T>(['EVALSHA', this.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return l2.command<T>(['EVAL', this.text, ...tail]);
    }
  }
}

import { createHash } from 'node:crypto';
import type { L2Commands } from './driver.js';

/** A Lua script run by its SHA1, so that its body crosses the network only when Redis lacks it. */
export class Script {
  readonly sha: string;
  constructor(readonly text: string) {
    this.sha = createHash('sha1').update(text).digest('hex');
  }

  /** Runs the script through `l2.command` with `keys` and `args`; rejects when Redis fails. */
  run<T>(l2: L2Commands, keys: string[], args: string[]): Promise<T> {
    return this.call((command) => l2.command<T>(command), [String(keys.length), ...keys, ...args]);
  }

  /**
   * Sends `EVALSHA sha …tail` with `send`, and once more as `EVAL text …tail` when Redis does not
   * know the script yet (a restart, `SCRIPT FLUSH`). `tail` starts with the number of keys.
   */
  async call<T>(send: (command: string[]) => Promise<T>, tail: readonly string[]): Promise<T> {
    try {
      return await send(['EVALSHA', this.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return send(['EVAL', this.text, ...tail]);
    }
  }
}

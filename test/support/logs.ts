import type { Logger } from '../../src/logger.js';

export interface CapturedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
  /** The whole line as text, to search for secrets. */
  text: string;
}

/** A pino-compatible logger that records every line, for assertions on what was logged. */
export function captureLogger(): Logger & { lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const at =
    (level: CapturedLine['level']) =>
    (obj: object | string, msg?: string): void => {
      const fields = typeof obj === 'string' ? {} : (obj as Record<string, unknown>);
      const text = typeof obj === 'string' ? obj : (msg ?? '');
      lines.push({ level, msg: text, fields, text: `${text} ${JSON.stringify(fields)}` });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

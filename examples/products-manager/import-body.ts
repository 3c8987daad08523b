import { PassThrough, type Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { JSONParser } from '@streamparser/json';
import { CsvError, parse } from 'csv-parse';
import { HttpError } from './api/context.js';

/** How much one import may send. */
export interface ImportLimits {
  /** Rows: reading stops at the first row past it. */
  maxRows: number;
  /** Bytes of the body: reading stops past it. */
  maxBytes: number;
}

class TooManyRows extends Error {}
class TooManyBytes extends Error {}

const JSON_SHAPE = 'send a JSON array of rows, or { "rows": [...] }';

/**
 * The rows of an import body, read as it streams in: CSV (`csv-parse`, header line naming the
 * fields) or JSON (a streaming parser: an array of rows, or `{ "rows": [...] }`). Stops at the first
 * row past `maxRows` or byte past `maxBytes` (413), or at the first unreadable byte (400, the CSV's
 * line named); the rest of the body is then read and dropped, never kept.
 */
export async function readImportRows(
  body: Readable,
  format: 'csv' | 'json',
  limits: ImportLimits,
): Promise<unknown[]> {
  const rows: unknown[] = [];
  // the request itself is not part of the pipeline: a failure must not destroy it (nor the answer)
  const source = new PassThrough();
  body.pipe(source);
  const lines = new RecordLines();
  const parser = format === 'csv' ? csvParser() : new JsonRows();
  try {
    await pipeline(source, byteLimit(limits.maxBytes), lines, parser, collect(rows, limits.maxRows));
  } catch (err) {
    body.unpipe(source);
    body.resume();
    throw explain(err, format, limits, lines);
  }
  return rows;
}

function csvParser(): Transform {
  return parse({
    bom: true,
    columns: (header: string[]) => header.map((name) => name.trim()),
    skip_empty_lines: true,
  });
}

function explain(err: unknown, format: 'csv' | 'json', limits: ImportLimits, lines: RecordLines): unknown {
  if (err instanceof TooManyRows) {
    return new HttpError(
      413,
      'too_large',
      `an import takes at most ${limits.maxRows} rows; this one has more, and nothing was imported`,
    );
  }
  if (err instanceof TooManyBytes) {
    return new HttpError(413, 'too_large', `an import body takes at most ${limits.maxBytes} bytes`);
  }
  if (err instanceof CsvError) {
    // csv-parse counts records, not lines: the line is where that record starts
    const records = (err as CsvError & { records?: number }).records ?? 0;
    const line = lines.startOf(records + 1) ?? err.lines;
    const reason =
      err.code === 'CSV_QUOTE_NOT_CLOSED'
        ? 'a quoted field is not closed'
        : err.message.replace(/ (on|at) line \d+$/, '').replace(/^Invalid Record Length: /, '');
    return new HttpError(400, 'bad_request', `the CSV cannot be read: line ${line}: ${reason}`);
  }
  if (format === 'json' && err instanceof Error && !(err instanceof HttpError)) {
    return new HttpError(400, 'bad_request', `the JSON cannot be read (${err.message}); ${JSON_SHAPE}`);
  }
  return err;
}

function byteLimit(maxBytes: number): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(bytes > maxBytes ? new TooManyBytes() : null, chunk);
    },
  });
}

function collect(rows: unknown[], maxRows: number): Writable {
  return new Writable({
    objectMode: true,
    write(row: unknown, _encoding, done) {
      if (rows.length >= maxRows) return done(new TooManyRows());
      rows.push(row);
      done();
    },
  });
}

/**
 * Passes bytes through, noting the line each CSV record starts on (1-based; the header is record
 * 0): blank lines and line breaks inside quoted fields start no record. Only line numbers are
 * kept, at most one per row an import may hold.
 */
class RecordLines extends Transform {
  readonly #starts: number[] = [];
  #line = 1;
  #quoted = false;
  #atRecordStart = true;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    for (const byte of chunk) {
      if (byte === 0x0a) {
        this.#line++;
        if (!this.#quoted) this.#atRecordStart = true;
      } else if (byte !== 0x0d && this.#atRecordStart) {
        this.#atRecordStart = false;
        this.#starts.push(this.#line);
      }
      if (byte === 0x22) this.#quoted = !this.#quoted;
    }
    done(null, chunk);
  }

  /** The line record `index` starts on, if it was seen. */
  startOf(index: number): number | undefined {
    return this.#starts[index];
  }
}

/** JSON bytes in, rows out: the elements of a top-level array, or of its `rows` array. */
class JsonRows extends Transform {
  #parser: JSONParser | undefined;

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      if (this.#parser === undefined) {
        const first = chunk.toString('latin1').trimStart()[0];
        if (first !== undefined && first !== '[' && first !== '{') {
          throw new HttpError(400, 'bad_request', JSON_SHAPE);
        }
        // only blank so far: the next chunk tells
        if (first !== undefined) this.#parser = this.#open(first === '[' ? '$.*' : '$.rows.*');
      }
      this.#parser?.write(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      // the parser ends by itself once the top-level value is closed
      if (this.#parser !== undefined && !this.#parser.isEnded) this.#parser.end();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  #open(path: string): JSONParser {
    // keepStack false: rows already passed on are not kept in the parser's array as well
    const parser = new JSONParser({ paths: [path], keepStack: false });
    parser.onValue = ({ value, key }) => {
      if (typeof key !== 'number')
        throw new HttpError(400, 'bad_request', `rows must be an array; ${JSON_SHAPE}`);
      this.push(value);
    };
    return parser;
  }
}

import pg from 'pg';

/** A value that has no SQL literal (`Infinity`, text with NUL): the input that carried it is invalid. */
export class SqlValueError extends TypeError {}

/**
 * A statement whose values are already rendered as SQL literals. Why literals and not `$1`
 * parameters: the embedded database is PGlite behind pglite-socket, which runs the messages of all
 * connections through one session; the extended protocol (Parse/Bind/Execute) of two connections can
 * interleave there and bind one client's parameters to another's statement (electric-sql/pglite
 * #1046). A simple-protocol query is one message, hence atomic. Values pass through
 * `pg.escapeLiteral`, never through string concatenation of raw input.
 */
export class Sql {
  constructor(readonly text: string) {}
}

export type SqlValue = string | number | boolean | null | Date | Sql | readonly (string | number)[];

function literal(value: SqlValue): string {
  if (value instanceof Sql) return value.text;
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SqlValueError(`${value} is not a valid number here`);
    // parenthesised so that `a -${-1}` can never become a `--` comment
    return value < 0 ? `(${value})` : String(value);
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return `${pg.escapeLiteral(value.toISOString())}::timestamptz`;
  if (Array.isArray(value)) return value.length === 0 ? 'NULL' : value.map(literal).join(', ');
  // PostgreSQL text cannot hold NUL; a request that carries one is refused rather than failing in the database
  if ((value as string).includes('\u0000')) throw new SqlValueError('text must not contain NUL characters');
  return pg.escapeLiteral(value as string);
}

/** `sql\`SELECT … WHERE id = ${id}\``: the values become escaped literals (see `Sql`). */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): Sql {
  let text = strings[0]!;
  values.forEach((value, i) => {
    text += literal(value) + strings[i + 1]!;
  });
  return new Sql(text);
}

/** Joins fragments with `separator` (`' AND '`, `', '`). */
export function joinSql(parts: readonly Sql[], separator: string): Sql {
  return new Sql(parts.map((part) => part.text).join(separator));
}

/** A JSON document as a `jsonb` literal (bulk writes: `jsonb_to_recordset(${jsonb(rows)})`). */
export function jsonb(value: unknown): Sql {
  return new Sql(`${pg.escapeLiteral(JSON.stringify(value))}::jsonb`);
}

/** The database as the workers use it: a small pool, one method per need. */
export class Database {
  readonly #pool: pg.Pool;

  constructor(url: string, options: { max?: number; onError?: (err: Error) => void } = {}) {
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 4,
      connectionTimeoutMillis: 10_000,
      query_timeout: 60_000,
    });
    // a connection that dies while idle (database restarted) must not crash the process
    this.#pool.on('error', (err) => options.onError?.(err));
  }

  /** Runs one statement; rejects with the database's error. */
  async query<R extends object>(statement: Sql): Promise<R[]> {
    const result = await this.#pool.query<R>(statement.text);
    return result.rows;
  }

  /** The first row, or `undefined`. */
  async one<R extends object>(statement: Sql): Promise<R | undefined> {
    return (await this.query<R>(statement))[0];
  }

  /** Whether the database answers within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.query(sql`SELECT 1`).then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { CATEGORIES } from '../database/schema.js';
import { jsonb, type Sql, sql } from '../database/sql.js';
import { isValidEan13 } from '../ean.js';
import { readImportRows } from '../import-body.js';
import { type ApiContext, HttpError, idOf, idParams, notFound } from './context.js';

export interface ImportJob {
  id: number;
  status: 'queued' | 'running' | 'done' | 'failed';
  format: 'csv' | 'json';
  totalRows: number;
  processedRows: number;
  inserted: number;
  updated: number;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

interface ImportRow {
  ean: string;
  name: string;
  category: string;
  price_cents: number;
  stock: number;
  supplier_id: number;
}

export const MAX_IMPORT_ROWS = 100_000;
/** Largest import body, in bytes. */
export const MAX_IMPORT_BYTES = 50 * 1024 * 1024;
/** What a 429 (too many imports running in this worker) tells the client to wait, in seconds. */
const RETRY_AFTER_SECONDS = 5;
/** How often a worker looks for jobs whose worker died, in ms (also once at start-up). */
const ORPHAN_CHECK_INTERVAL_MS = 30_000;
const CHUNK_ROWS = 1000;
const MAX_REPORTED_PROBLEMS = 20;

const SELECT_JOB = sql`
  SELECT id, status, format, total_rows AS "totalRows", processed_rows AS "processedRows", inserted, updated,
         error, created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"
  FROM import_jobs`;

const CATEGORY_SET = new Set<string>(CATEGORIES);

function wholeNumber(value: unknown, min: number, max: number): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= min && number <= max
    ? number
    : undefined;
}

/** Checks one input row; returns the row ready for the database, or what is wrong with it. */
function checkRow(input: unknown, suppliers: ReadonlySet<number>): ImportRow | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'is not an object';
  const row = input as Record<string, unknown>;
  const ean = typeof row.ean === 'string' ? row.ean.trim() : '';
  if (!isValidEan13(ean)) return 'ean must be an EAN-13 with a valid check digit';
  const name = typeof row.name === 'string' ? row.name.trim() : '';
  if (name.length < 1 || name.length > 200) return 'name must have 1 to 200 characters';
  const category = typeof row.category === 'string' ? row.category.trim() : '';
  if (!CATEGORY_SET.has(category)) return `category must be one of ${CATEGORIES.join(', ')}`;
  const priceCents = wholeNumber(row.priceCents, 0, 100_000_000);
  if (priceCents === undefined) return 'priceCents must be a whole number from 0 to 100000000';
  const stock = wholeNumber(row.stock, 0, 10_000_000);
  if (stock === undefined) return 'stock must be a whole number from 0 to 10000000';
  const supplierId = wholeNumber(row.supplierId, 1, 2147483647);
  if (supplierId === undefined || !suppliers.has(supplierId))
    return 'supplierId must name an existing supplier';
  return { ean, name, category, price_cents: priceCents, stock, supplier_id: supplierId };
}

/** Whether the process `pid` of this host still runs (signal 0 tests without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Import routes. `POST /api/v1/imports` reads the rows as they stream in (CSV or JSON, at most
 * `MAX_IMPORT_ROWS`), validates every row, answers 202 with a job, and runs the job in the
 * background in chunks; its status lives in the database and is cached in `imports_` (`job_<id>`),
 * dropped at each step so that polling reads the new one. At most `concurrency` jobs are read or
 * run at once in a worker; beyond, a 429 with `Retry-After`. At the end, the catalog's products and
 * the dashboard are invalidated by pattern (the bulk-import strategy).
 */
export async function importRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  options: { concurrency: number },
): Promise<{ drain(): Promise<void> }> {
  const running = new Set<Promise<void>>();
  /** Imports being read, validated or run in this worker. */
  let active = 0;
  const host = hostname();
  const owner = `${host}:${process.pid}`;

  const loadJob = (id: number) =>
    ctx.reads.getOrSet(
      'imports',
      `job_${id}`,
      async () => (await ctx.db.one<ImportJob>(sql`${SELECT_JOB} WHERE id = ${id}`)) ?? null,
    );

  /** Changes job `id` (only while `onlyIf` holds, when given); whether it changed. */
  async function setJob(id: number, changes: Sql, onlyIf: Sql = sql`true`): Promise<boolean> {
    const changed = await ctx.db.query<{ id: number }>(
      sql`UPDATE import_jobs SET ${changes} WHERE id = ${id} AND ${onlyIf} RETURNING id`,
    );
    // dropped rather than overwritten: a poll that read the previous state meanwhile cannot store it back
    await ctx.cache.delete(`job_${id}`, { dbType: 'imports' });
    return changed.length > 0;
  }

  async function run(id: number, rows: ImportRow[]): Promise<void> {
    let inserted = 0;
    let updated = 0;
    try {
      await setJob(id, sql`status = 'running', started_at = now()`);
      for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
        const chunk = rows.slice(start, start + CHUNK_ROWS);
        const [counts] = await ctx.db.query<{ inserted: number; updated: number }>(sql`
          WITH written AS (
            INSERT INTO products (ean, name, category, price_cents, stock, supplier_id)
            SELECT ean, name, category, price_cents, stock, supplier_id
            FROM jsonb_to_recordset(${jsonb(chunk)})
              AS r(ean text, name text, category text, price_cents int, stock int, supplier_id int)
            ON CONFLICT (ean) DO UPDATE SET name = excluded.name, category = excluded.category,
              price_cents = excluded.price_cents, stock = excluded.stock, supplier_id = excluded.supplier_id,
              updated_at = now()
            RETURNING (xmax = 0) AS created)
          SELECT count(*) FILTER (WHERE created)::int AS inserted, count(*) FILTER (WHERE NOT created)::int AS updated
          FROM written`);
        inserted += counts!.inserted;
        updated += counts!.updated;
        await setJob(
          id,
          sql`processed_rows = ${start + chunk.length}, inserted = ${inserted}, updated = ${updated}`,
        );
      }
      await ctx.invalidation.afterImport(`import ${id} done`);
      await setJob(id, sql`status = 'done', finished_at = now()`);
    } catch (err) {
      ctx.log.error({ job: id, err }, 'products-manager: import failed');
      await ctx.invalidation.afterImport(`import ${id} failed`);
      const message = err instanceof Error ? err.message : String(err);
      await setJob(id, sql`status = 'failed', error = ${message}, finished_at = now()`).catch(() => {});
    }
  }

  /** Reads and checks an import; the job, created, or the 400 answer listing the bad rows. */
  const post = async (
    body: Readable,
    format: 'csv' | 'json',
  ): Promise<{ job: ImportJob; rows: ImportRow[] } | { invalid: object }> => {
    const input = await readImportRows(body, format, {
      maxRows: MAX_IMPORT_ROWS,
      maxBytes: MAX_IMPORT_BYTES,
    });
    if (input.length === 0) {
      throw new HttpError(400, 'bad_request', 'the import has no rows; send a JSON array of rows, or CSV');
    }
    const supplierRows = await ctx.db.query<{ id: number }>(sql`SELECT id FROM suppliers`);
    const suppliers = new Set(supplierRows.map((row) => row.id));
    const rows: ImportRow[] = [];
    const problems: Array<{ row: number; message: string }> = [];
    const eans = new Set<string>();
    input.forEach((raw, i) => {
      const checked = checkRow(raw, suppliers);
      if (typeof checked === 'string') problems.push({ row: i + 1, message: checked });
      else if (eans.has(checked.ean))
        problems.push({ row: i + 1, message: `ean ${checked.ean} appears twice` });
      else {
        eans.add(checked.ean);
        rows.push(checked);
      }
    });
    if (problems.length > 0) {
      return {
        invalid: {
          error: 'bad_request',
          message: `${problems.length} of ${input.length} rows are invalid; nothing was imported`,
          problems: problems.slice(0, MAX_REPORTED_PROBLEMS),
        },
      };
    }
    const job = await ctx.db.one<ImportJob>(sql`
      INSERT INTO import_jobs (status, format, total_rows, owner) VALUES ('queued', ${format}, ${rows.length}, ${owner})
      RETURNING id, status, format, total_rows AS "totalRows", processed_rows AS "processedRows", inserted, updated,
                error, created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"`);
    return { job: job!, rows };
  };

  // the body is read by the route as it streams in, in a scope of its own (the other routes keep
  // Fastify's JSON parser)
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['application/json', 'text/csv'], (_request, payload, done) =>
      done(null, payload),
    );
    scope.post('/api/v1/imports', async (request, reply) => {
      const body = request.body as Readable;
      if (active >= options.concurrency) {
        // the body is dropped unread
        body.resume();
        return reply
          .code(429)
          .header('retry-after', String(RETRY_AFTER_SECONDS))
          .send({
            error: 'too_many_imports',
            message: `this worker runs ${options.concurrency} imports at most (IMPORT_CONCURRENCY); try again in ${RETRY_AFTER_SECONDS} s`,
          });
      }
      active++;
      let answer: Awaited<ReturnType<typeof post>>;
      try {
        const format = request.headers['content-type']?.startsWith('text/csv') ? 'csv' : 'json';
        answer = await post(body, format);
      } catch (err) {
        active--;
        throw err;
      }
      if ('invalid' in answer) {
        active--;
        return reply.code(400).send(answer.invalid);
      }
      const { job, rows } = answer;
      const task = run(job.id, rows).finally(() => {
        active--;
        running.delete(task);
      });
      running.add(task);
      return reply.code(202).header('location', `/api/v1/imports/${job.id}`).send(job);
    });
  });

  app.get('/api/v1/imports/:id', { schema: { params: idParams } }, async (request) => {
    const id = idOf(request.params);
    const job = await loadJob(id);
    if (!job) throw notFound(`import job ${id}`);
    return job;
  });

  app.get('/api/v1/imports', async () => ({
    jobs: await ctx.db.query<ImportJob>(sql`${SELECT_JOB} ORDER BY id DESC LIMIT 20`),
  }));

  /**
   * Fails the unfinished jobs whose worker is gone (killed, crashed, or the service restarted): their
   * rows lived in that worker's memory, so nothing can resume them, and without this they would show
   * `running` for ever. Only jobs of this host are judged (a pid means nothing elsewhere); jobs
   * without an owner predate the column. Every worker checks at start-up and every 30 s; the update
   * is conditional, so two workers checking at once fail a job once.
   */
  async function failOrphans(): Promise<void> {
    const unfinished = await ctx.db.query<{ id: number; owner: string | null }>(
      sql`SELECT id, owner FROM import_jobs WHERE status IN ('queued', 'running')`,
    );
    for (const { id, owner: jobOwner } of unfinished) {
      const [jobHost, pid] = jobOwner === null ? [host, Number.NaN] : splitOwner(jobOwner);
      if (jobHost !== host || (Number.isInteger(pid) && alive(pid))) continue;
      const reason = `interrupted: the worker running it stopped${jobOwner === null ? '' : ` (${jobOwner})`}`;
      const failed = await setJob(
        id,
        sql`status = 'failed', error = ${reason}, finished_at = now()`,
        sql`status IN ('queued', 'running')`,
      );
      if (!failed) continue;
      ctx.log.warn({ job: id, owner: jobOwner }, 'products-manager: import job failed, its worker is gone');
      // what the dead worker had imported is in the database: the catalog must not serve older pages
      await ctx.invalidation.afterImport(`import ${id} interrupted`);
    }
  }
  const checkOrphans = () =>
    failOrphans().catch((err: unknown) =>
      ctx.log.warn(
        { err: (err as Error).message },
        'products-manager: could not check for interrupted imports',
      ),
    );
  void checkOrphans();
  const orphanTimer = setInterval(checkOrphans, ORPHAN_CHECK_INTERVAL_MS);
  orphanTimer.unref();

  return {
    /** Waits for the imports running in this worker (graceful shutdown). */
    async drain() {
      clearInterval(orphanTimer);
      await Promise.allSettled([...running]);
    },
  };
}

/** `'<host>:<pid>'` → host and pid (NaN when malformed). */
function splitOwner(owner: string): [string, number] {
  const at = owner.lastIndexOf(':');
  return at === -1 ? [owner, Number.NaN] : [owner.slice(0, at), Number(owner.slice(at + 1))];
}

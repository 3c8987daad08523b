import cluster, { type Worker } from 'node:cluster';

// Requests between the primary and its workers over the cluster IPC channel. The tag keeps these
// messages apart from the others on the channel (prom-client's metric aggregation uses it too).
const TAG = 'products-manager';

/** What the workers ask of the primary, and what the primary asks of each worker. */
export type Question = 'status' | 'metrics';

interface Envelope {
  tag: typeof TAG;
  op: 'request' | 'reply' | 'ask' | 'answer';
  id: number;
  question?: Question;
  body?: unknown;
  error?: string;
}

function isEnvelope(message: unknown): message is Envelope {
  return typeof message === 'object' && message !== null && (message as Envelope).tag === TAG;
}

let nextId = 1;
const pending = new Map<number, { resolve(body: unknown): void; reject(err: Error): void }>();

function settle(message: Envelope): void {
  const waiting = pending.get(message.id);
  if (!waiting) return;
  pending.delete(message.id);
  if (message.error !== undefined) waiting.reject(new Error(message.error));
  else waiting.resolve(message.body);
}

/**
 * Sends `message` to `worker`; `false` when it cannot (the worker exited or is exiting). A send on
 * a closed channel is reported to the callback instead of an 'error' event: unhandled, that event
 * would bring the primary down.
 */
function sendTo(worker: Worker, message: Envelope, failed: () => void = () => {}): boolean {
  if (!worker.isConnected()) {
    failed();
    return false;
  }
  worker.send(message, undefined, (err) => {
    if (err) failed();
  });
  return true;
}

function waitForReply(id: number, timeoutMs: number, what: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`${what} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    pending.set(id, {
      resolve: (body) => {
        clearTimeout(timer);
        resolve(body);
      },
      reject: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
  });
}

/** In a worker: answers the primary's questions with `answer`, and routes the primary's replies. */
export function serveThePrimary(answer: (question: Question) => Promise<unknown>): void {
  process.on('message', async (message: unknown) => {
    if (!isEnvelope(message)) return;
    if (message.op === 'reply') return settle(message);
    if (message.op !== 'ask') return;
    // the primary may be gone by then (the worker then stops on 'disconnect'): nothing to report to
    const reply = (envelope: Envelope) => {
      if (process.connected) process.send?.(envelope, undefined, {}, () => {});
    };
    try {
      reply({ tag: TAG, op: 'answer', id: message.id, body: await answer(message.question!) });
    } catch (err) {
      reply({ tag: TAG, op: 'answer', id: message.id, error: String(err) });
    }
  });
}

/** In a worker: asks the primary (cluster status, aggregated metrics); rejects after `timeoutMs`. */
export function askThePrimary(question: Question, timeoutMs = 5000): Promise<unknown> {
  const id = nextId++;
  const reply = waitForReply(id, timeoutMs, 'the primary process');
  if (process.connected) {
    process.send?.({ tag: TAG, op: 'request', id, question }, undefined, {}, (err: Error | null) => {
      if (err) settle({ tag: TAG, op: 'reply', id, error: 'the primary process is gone' });
    });
  } else settle({ tag: TAG, op: 'reply', id, error: 'the primary process is gone' });
  return reply;
}

/** In the primary: answers the workers' requests with `answer`, and routes the workers' answers. */
export function serveTheWorkers(answer: (question: Question) => Promise<unknown>): void {
  cluster.on('message', async (worker: Worker, message: unknown) => {
    if (!isEnvelope(message)) return;
    if (message.op === 'answer') return settle(message);
    if (message.op !== 'request') return;
    // the worker may exit while the answer is worked out: the reply then goes nowhere
    try {
      sendTo(worker, { tag: TAG, op: 'reply', id: message.id, body: await answer(message.question!) });
    } catch (err) {
      sendTo(worker, { tag: TAG, op: 'reply', id: message.id, error: String(err) });
    }
  });
}

/** In the primary: asks every live worker; a worker that does not answer within `timeoutMs` gives `null`. */
export async function askTheWorkers(
  question: Question,
  timeoutMs = 2000,
): Promise<Array<{ workerId: number; answer: unknown }>> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true);
  return Promise.all(
    workers.map(async (worker) => {
      const id = nextId++;
      const reply = waitForReply(id, timeoutMs, `worker ${worker.id}`);
      // a worker gone meanwhile answers nothing: no need to wait for it
      sendTo(worker, { tag: TAG, op: 'ask', id, question }, () =>
        settle({ tag: TAG, op: 'answer', id, error: 'the worker exited' }),
      );
      return { workerId: worker.id, answer: await reply.catch(() => null) };
    }),
  );
}

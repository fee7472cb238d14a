import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { DEFAULT_NATS_URL, natsAuthOptions } from '@plexus/bus';
import { nodeIdsOf } from '../test/support/leftover-nodes';
import { purgeNodesFromNats } from '../test/support/shared-nats-cleanup';

/** The admin token every benchmark's control plane is started with. */
export const BENCH_TOKEN = 'bench-admin-token-0123456789';
/** The NATS benchmarks use: the shared one unless NATS_URL names another. */
export const BENCH_NATS_URL = process.env.NATS_URL ?? DEFAULT_NATS_URL;
/** BENCH_NATS_URL as client options: one server or a cluster's list (comma separated). */
export const BENCH_NATS = natsAuthOptions(BENCH_NATS_URL);

/** Benchmarks print progress on stderr and one JSON object as the last line of stdout. */
export const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export function percentile(sortedMs: number[], p: number): number {
  if (!sortedMs.length) return NaN;
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)];
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs `concurrency` loops of `op` for `seconds`; returns per-op latencies (ms) and throughput. */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<void>,
) {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        try {
          await op(worker, i);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message.slice(0, 300);
          if (errors <= 3) progress(`error: ${(err as Error).message}`);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSec: latencies.length / elapsed,
    latencies,
    errors,
    firstError,
    count: latencies.length,
  };
}

/** Runs `total` ops spread over `concurrency` loops; resolves once all are done. */
export async function fixedCount(
  concurrency: number,
  total: number,
  op: (worker: number, i: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < total; i = next++) await op(worker, i);
    }),
  );
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat (Linux). Unlike
 * throughput it hardly depends on what else runs on the machine, so CPU per operation compares
 * versions of the code on a busy host.
 */
export function processCpuMs(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const CLOCK_TICKS_PER_SEC = 100; // USER_HZ, 100 on every Linux platform Node runs on
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SEC;
}

/**
 * A lean keep-alive HTTP/1.1 client for load generation. The load generator shares the two cores
 * with the system under test; node:http costs about a quarter of the CPU per request that fetch
 * (undici) does here, so more of the machine goes to what is measured.
 */
export function jsonClient(baseUrl: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return (
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          hostname,
          port,
          method,
          path,
          agent,
          headers: {
            ...headers,
            ...extraHeaders,
            ...(data
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
              : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kb / 1024;
}

/** CPU time (user + system) a process has used so far, in ms (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime: fields 14 and 15
}

/**
 * The leanest client for the write benchmark: HTTP/1.1 written and read straight on keep-alive
 * sockets, one request at a time per socket (as node:http does), answers framed by
 * Content-Length. It takes about a third of the CPU per request that node:http's client does
 * here (bench:write prints loadGeneratorCpuMsPerWrite), and on two cores every millisecond the
 * load generator spends is taken from the system under test. Answers without a Content-Length
 * (chunked ones) are refused: the admin API's JSON answers always carry one.
 */
export function socketJsonClient(baseUrl: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(baseUrl);
  const fixedHeaders = Object.entries({ host: `${hostname}:${port}`, ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const idle: HttpSocket[] = [];
  return async (
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: string }> => {
    let head = `${method} ${path} HTTP/1.1\r\n${fixedHeaders}`;
    for (const [k, v] of Object.entries(extraHeaders)) head += `${k}: ${v}\r\n`;
    const data = body === undefined ? '' : JSON.stringify(body);
    if (body !== undefined)
      head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(data)}\r\n`;
    const request = `${head}\r\n${data}`;
    let socket = idle.pop();
    while (socket && !socket.reusable) socket = idle.pop(); // the server closes idle ones in time
    const reused = socket !== undefined;
    socket ??= new HttpSocket(hostname, Number(port));
    let answer;
    try {
      answer = await socket.exchange(request);
    } catch (err) {
      // The server closed a kept-alive socket as the request went out, before reading it (so it
      // was not served): send it again on a new one, as node:http's agent does.
      if (!(err instanceof ClosedBeforeAnswer) || !reused) throw err;
      socket = new HttpSocket(hostname, Number(port));
      answer = await socket.exchange(request);
    }
    if (socket.reusable) idle.push(socket);
    return answer;
  };
}

class ClosedBeforeAnswer extends Error {}

class HttpSocket {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: {
    resolve: (answer: { status: number; body: string }) => void;
    reject: (err: Error) => void;
  } | null = null;
  reusable = true;

  constructor(host: string, port: number) {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk) => this.received(chunk));
    const fail = (err?: Error) => {
      this.reusable = false;
      const answerStarted = this.buffered.length > 0;
      this.waiting?.reject(
        answerStarted
          ? (err ?? new Error('the server closed the connection'))
          : new ClosedBeforeAnswer(),
      );
      this.waiting = null;
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail());
  }

  exchange(request: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  private received(chunk: Buffer) {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const headerEnd = this.buffered.indexOf('\r\n\r\n');
    if (headerEnd < 0 || !this.waiting) return;
    const head = this.buffered.toString('latin1', 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    if (length === undefined && status !== 204 && status !== 304) {
      this.reusable = false;
      this.waiting.reject(new Error(`answer ${status} without a Content-Length`));
      this.waiting = null;
      this.socket.destroy();
      return;
    }
    const end = headerEnd + 4 + Number(length ?? 0);
    if (this.buffered.length < end) return;
    const body = this.buffered.toString('utf8', headerEnd + 4, end);
    this.buffered = this.buffered.subarray(end);
    if (/\r\nconnection:\s*close/i.test(head)) {
      this.reusable = false;
      this.socket.end();
    }
    const { resolve } = this.waiting;
    this.waiting = null;
    resolve({ status, body });
  }
}

/**
 * Drops a run's database, then purges what its control plane put on the shared NATS for the nodes
 * that database held (see test/support/shared-nats-cleanup.ts).
 */
export async function dropBenchDatabase(db: { url: string; drop(): Promise<void> }) {
  const nodeIds = await nodeIdsOf(db.url);
  await db.drop();
  await purgeNodesFromNats(BENCH_NATS, nodeIds).catch((err) =>
    progress(`could not purge this run's events from NATS: ${(err as Error).message}`),
  );
}

import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { DEFAULT_NATS_URL } from '@plexus/bus';

/** The admin token every benchmark's control plane is started with. */
export const BENCH_TOKEN = 'bench-admin-token-0123456789';
/** The NATS benchmarks use: the shared one unless NATS_URL names another. */
export const BENCH_NATS_URL = process.env.NATS_URL ?? DEFAULT_NATS_URL;

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

import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value of a worker's helper threads by default: the lowest priority Linux has. */
export const DEFAULT_HELPER_THREAD_NICE = 19;

/**
 * Lowers the CPU priority (raises the nice value) of every thread of this process but the main
 * one: V8's optimising compiler and garbage-collection helpers, which exist from the start. Call
 * it before anything uses libuv's thread pool: those threads are started by the main thread later
 * and keep its priority (so file system and crypto work is not slowed down).
 *
 * Why: every process of a node runs the same code and applies the same change at the same moment,
 * so V8 optimises the same functions in all of them at the same change. On a host with fewer cores
 * than processes, those compilations held every process's apply back (bench:propagation, 20
 * processes on 2 cores, 4 pairs of alternating runs: p99 14.5 ms on average without this, 11.5 ms
 * with it, lower in every pair). At the lowest priority they use the CPU the applies leave idle.
 * Only Linux sets a priority per thread (setpriority on a thread ID); elsewhere this does nothing.
 */
export function lowerHelperThreadPriority(nice: number): void {
  if (nice <= 0 || process.platform !== 'linux') return;
  for (const entry of readdirSync('/proc/self/task')) {
    const threadId = Number(entry);
    if (threadId === process.pid) continue;
    try {
      setPriority(threadId, nice);
    } catch {
      // the thread has ended meanwhile
    }
  }
}

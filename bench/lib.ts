import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Mixer } from '../mixer/mixer.js';
import { processCpuSeconds } from '../src/procStat.js';

export { freePort } from '../test/helpers/server.js';
import { fileURLToPath } from 'node:url';

/** Shared helpers of the benchmarks: ports, child processes, CPU accounting, percentiles, output. */

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** CPU seconds of a process and its reaped children (Linux /proc). */
export function cpuSeconds(pid: number): number {
  return processCpuSeconds(pid, true) ?? 0;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Starts a process and resolves once a line of its output matches `ready`. */
export async function startProcess(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; ready: RegExp; timeoutMs?: number }): Promise<ChildProcess> {
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${output}`)), options.timeoutMs ?? 60_000);
    const check = (chunk: Buffer): void => {
      output += chunk;
      if (options.ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code}:\n${output}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('exit');
  child.kill('SIGTERM');
  await once(child, 'exit');
}

export function writeResult(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${name}.json`;
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export function printTable(header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  for (const [index, row] of cells.entries()) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
    if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/**
 * CPU seconds used so far by this process (the server's Node) and by the mixer's FFmpeg children, as the
 * mixer accounts them per room: the difference of two samples is what the server used between them.
 */
export function serverCpuSeconds(mixer: Mixer): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6 + [...mixer.cpuSecondsByRoom().values()].reduce((sum, cpu) => sum + cpu, 0);
}

/** Live child processes of `pid`, whichever of its threads started them (/proc/<pid>/task/<tid>/children). */
function childrenOf(pid: number): number[] {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return threads.flatMap((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
}

/**
 * CPU seconds of a process tree: the process (all its threads), the children it has reaped, and every live
 * descendant, except the subtrees rooted at `excluded` (another party's processes, e.g. test members forked by
 * the benchmark that also hosts the server). The difference of two samples is what the tree used between them,
 * as long as no excluded process is reaped in between (its CPU would then land in the reaped children's count).
 */
export function processTreeCpuSeconds(pid: number, excluded: ReadonlySet<number> = new Set()): number {
  const own = processCpuSeconds(pid, true) ?? 0;
  return childrenOf(pid)
    .filter((child) => !excluded.has(child))
    .reduce((total, child) => total + processTreeCpuSeconds(child, excluded), own);
}

/**
 * Event-loop lag of this process from now until the returned stop(): how late a 10 ms timer fired (the
 * histogram records whole intervals, so the resolution is taken off).
 */
export function watchEventLoopLag(): () => { p99Ms: number; maxMs: number } {
  const resolutionMs = 10;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  return () => {
    histogram.disable();
    const lag = (ns: number): number => Math.max(0, ns / 1e6 - resolutionMs);
    return { p99Ms: lag(histogram.percentile(99)), maxMs: lag(histogram.max) };
  };
}

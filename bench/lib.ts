import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync, mkdirSync } from 'node:fs';
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

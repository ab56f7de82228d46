import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU seconds (user + system) a process has used, from /proc/<pid>/stat; with `children`, also those of
 * its children it has waited for (a whole process tree, once the children have exited). Undefined when
 * the process is gone.
 */
export function processCpuSeconds(pid: number, children = false): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces): utime, stime, cutime, cstime are 11..14.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  const ticks = fields[11]! + fields[12]! + (children ? fields[13]! + fields[14]! : 0);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

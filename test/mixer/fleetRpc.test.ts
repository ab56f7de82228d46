import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ProbeFleet } from './probeFleet.js';

/** The nice value of each thread of a process (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
}

describe('test members in a process of their own (ForkedCommands)', () => {
  const probes = new ProbeFleet(19);
  afterAll(() => probes.close());

  it('answers commands, and passes a command\'s error on to the caller', async () => {
    const offer = await probes.call('offer', { userId: 1, colour: 'red', tone: 400, fps: 15 });
    expect(offer).toContain('m=video');
    await expect(probes.call('frames', 7, 0, 1)).rejects.toThrow('no probe 7');
  }, 30_000);

  it('runs every thread of the child at the niceness asked for, not only its main thread', () => {
    const niceness = threadNiceness(probes.pid);
    expect(niceness.length).toBeGreaterThan(1);
    expect(new Set(niceness)).toEqual(new Set([19]));
  });

  it('exits when closed', async () => {
    await probes.close();
    expect(() => readFileSync(`/proc/${probes.pid}/stat`)).toThrow();
  });
});

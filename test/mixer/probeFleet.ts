import { fileURLToPath } from 'node:url';
import type { Member } from '../../src/domain.js';
import type { ProbeCommands, ProbeOptions } from './fleetProbes.js';
import { ForkedCommands } from './fleetRpc.js';
import { admit, type Conferencing } from './harness.js';

/** Probe members (fleetProbes.ts) in a child process of their own, driven from a benchmark. */
export class ProbeFleet extends ForkedCommands<ProbeCommands> {
  /** `niceness`: see ForkedCommands. */
  constructor(niceness = 0) {
    super(fileURLToPath(new URL('./fleetProbes.ts', import.meta.url)), niceness);
  }

  /** The probe's offer, admission by the model, the mixer's answer, then media. */
  async join(world: Conferencing, options: ProbeOptions & { room: string; profile: string }): Promise<Member> {
    const { userId, colour, tone, fps } = options;
    const { member, answer } = await admit(world, options, await this.call('offer', { userId, colour, tone, fps }));
    await this.call('answer', userId, answer);
    return member;
  }
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * Another machine for a test: a network namespace joined to this one by a veth pair, each end with an
 * address of its own in 198.18.0.0/15 (the range set aside for network tests). Traffic between the two ends
 * stays on this machine. Needs root and iproute2.
 */
export interface TestHost {
  /** The namespace's own address: what the server sees as the client's. */
  address: string;
  /** This side's address, where a server here is reached from the namespace. */
  hostAddress: string;
  /** Runs a command inside the namespace. */
  run(command: string, args: string[], timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

let made = 0;

export async function createTestHost(): Promise<TestHost> {
  const id = (process.pid * 7 + made++) % 16_000;
  const name = `cmt${id}`;
  // A /30 per host: 198.18.0.0 + 4·id holds .1 (here) and .2 (the namespace).
  const base = 4 * id;
  const octets = (n: number) => `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
  const hostAddress = octets(base + 1);
  const address = octets(base + 2);
  const ip = (...args: string[]) => exec('ip', args);
  await ip('netns', 'add', name);
  try {
    await ip('link', 'add', `${name}h`, 'type', 'veth', 'peer', 'name', `${name}n`);
    await ip('link', 'set', `${name}n`, 'netns', name);
    await ip('addr', 'add', `${hostAddress}/30`, 'dev', `${name}h`);
    await ip('link', 'set', `${name}h`, 'up');
    await ip('-n', name, 'addr', 'add', `${address}/30`, 'dev', `${name}n`);
    await ip('-n', name, 'link', 'set', `${name}n`, 'up');
    await ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (error) {
    await remove(name);
    throw error;
  }
  return {
    address,
    hostAddress,
    async run(command, args, timeoutMs = 20_000) {
      return (await exec('ip', ['netns', 'exec', name, command, ...args], { timeout: timeoutMs })).stdout;
    },
    close: () => remove(name),
  };
}

async function remove(name: string): Promise<void> {
  // Deleting the namespace deletes its end of the pair, and with it this end.
  await exec('ip', ['link', 'del', `${name}h`]).catch(() => undefined);
  await exec('ip', ['netns', 'del', name]).catch(() => undefined);
}

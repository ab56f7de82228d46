/**
 * Test members live in child processes of their own (browsers.ts, fleetProbes.ts), so that their WebRTC,
 * decoding and analysis never compete with the server for its event loop. The parent drives such a process
 * with commands over its IPC channel: `ForkedCommands` on the parent's side, `serveCommands` on the child's.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * The commands a child offers: each takes JSON-able arguments and returns JSON-able data (or a promise of it).
 * `any[]`: the one parameter type every command's own parameters are assignable to, as Parameters<> needs.
 */
export type Commands<C> = { [K in keyof C]: (...args: any[]) => unknown };

export type CommandResult<C extends Commands<C>, K extends keyof C> = Awaited<ReturnType<C[K]>>;

interface Request {
  id: number;
  command: string;
  args: unknown[];
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

/** A child process running `script` with tsx, and the commands it serves. */
export class ForkedCommands<C extends Commands<C>> {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  /**
   * `niceness` lowers the scheduling priority of the child and of everything it starts: on a 2-core machine
   * that stands in for "another machine" whose work should not steal the server's CPU. nice(1) starts Node,
   * so every thread of the child has it, not only the main thread that setpriority() would reach.
   */
  constructor(script: string, niceness = 0) {
    const node = ['--import', 'tsx'];
    this.child = fork(script, [], {
      execPath: niceness ? 'nice' : process.execPath,
      execArgv: niceness ? ['-n', String(niceness), process.execPath, ...node] : node,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.result);
    });
    this.child.on('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`the test members' process exited (${code})`));
      this.pending.clear();
    });
  }

  /** The child's process id (for its CPU). */
  get pid(): number {
    return this.child.pid!;
  }

  call<K extends keyof C & string>(command: K, ...args: Parameters<C[K]>): Promise<CommandResult<C, K>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, command, args } satisfies Request);
    });
  }

  /** Disconnects: the child closes its members and exits. Resolves once it has exited. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.disconnect();
    await exited;
  }
}

/**
 * The child's side: runs each command the parent sends and replies with its result or its error's message.
 * When the parent disconnects, `shutdown` runs and the process exits.
 */
export function serveCommands<C extends Commands<C>>(commands: C, shutdown: () => Promise<unknown>): void {
  process.on('message', (request: Request) => {
    const run = commands[request.command as keyof C];
    Promise.resolve()
      .then(() => {
        if (!run) throw new Error(`no command ${request.command}`);
        return run(...request.args);
      })
      .then(
        (result) => process.send!({ id: request.id, result: result ?? null } satisfies Reply),
        (error: unknown) => process.send!({ id: request.id, error: (error as Error).message } satisfies Reply),
      );
  });
  process.on('disconnect', () => void shutdown().finally(() => process.exit(0)));
}

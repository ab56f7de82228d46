import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real nginx with Debian's libnginx-mod-rtmp, on a loopback port, writing HLS of every stream pushed to
 * its `live` application (1 s fragments) into `hlsDir`: <stream>.m3u8.
 */
export class Nginx {
  readonly hlsDir: string;
  private process: ChildProcess | undefined;
  private readonly conf: string;

  constructor(
    private readonly dir: string,
    readonly rtmpPort: number,
  ) {
    this.hlsDir = join(dir, 'nginx-hls');
    this.conf = join(dir, 'nginx.conf');
    mkdirSync(this.hlsDir, { recursive: true });
    writeFileSync(
      this.conf,
      `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
user root;
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:${rtmpPort};
    application live {
      live on;
      record off;
      hls on;
      hls_path ${this.hlsDir};
      hls_fragment 1s;
      hls_playlist_length 6s;
    }
  }
}
`,
    );
  }

  async start(): Promise<void> {
    this.process = spawn('nginx', ['-c', this.conf, '-p', this.dir], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 300));
  }

  async stop(): Promise<void> {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGTERM');
    await exited;
  }
}

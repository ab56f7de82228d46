import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real nginx with Debian's libnginx-mod-rtmp, on a loopback port, writing HLS of every stream pushed to
 * its `live` application (1 s fragments) into `hlsDir`: <stream>.m3u8; with `httpPort`, also serving it at
 * http://127.0.0.1:<httpPort>/hls/<stream>.m3u8, as a deployment would.
 */
export class Nginx {
  readonly hlsDir: string;
  private process: ChildProcess | undefined;
  private readonly conf: string;

  constructor(
    private readonly dir: string,
    readonly rtmpPort: number,
    readonly httpPort?: number,
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
${
  httpPort === undefined
    ? ''
    : `http {
  access_log off;
  server {
    listen 127.0.0.1:${httpPort};
    location /hls/ {
      alias ${this.hlsDir}/;
      types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
      add_header Cache-Control no-cache;
      add_header Access-Control-Allow-Origin *;
    }
  }
}
`
}`,
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

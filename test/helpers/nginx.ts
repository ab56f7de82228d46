import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * A real nginx with Debian's libnginx-mod-rtmp on loopback ports. `forTests`: writing HLS of every stream
 * pushed to its `live` application (1 s fragments) into `hlsDir` as <stream>.m3u8, and with `httpPort` also
 * serving it at http://127.0.0.1:<httpPort>/hls/<stream>.m3u8, as a deployment would; with `rtmpsPort`, also
 * taking RTMP over TLS there (Debian's stream module in front, a self-signed certificate). `fromDockerConf`: the
 * shipped docker/nginx.conf, with only what a container has and a test must not (fixed ports, /tmp, a
 * compiled-in rtmp module, the compose network's publishers) replaced.
 */
export class Nginx {
  private process: ChildProcess | undefined;
  private readonly conf: string;

  private constructor(
    private readonly dir: string,
    readonly rtmpPort: number,
    readonly hlsDir: string,
    readonly httpPort: number | undefined,
    body: string,
  ) {
    mkdirSync(hlsDir, { recursive: true });
    this.conf = join(dir, 'nginx.conf');
    // What every nginx of a test needs: Debian's module, no daemon, its files in its own folder.
    writeFileSync(this.conf, `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\nuser root;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log warn;\n${body}`);
  }

  static forTests(dir: string, rtmpPort: number, ports: { httpPort?: number; rtmpsPort?: number } = {}): Nginx {
    const { httpPort, rtmpsPort } = ports;
    const hlsDir = join(dir, 'nginx-hls');
    const http = `http {
  access_log off;
  server {
    listen 127.0.0.1:${httpPort};
    location /hls/ {
      alias ${hlsDir}/;
      types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
      add_header Cache-Control no-cache;
      add_header Access-Control-Allow-Origin *;
    }
  }
}
`;
    const tls = rtmpsPort === undefined ? '' : `stream {
  server {
    listen 127.0.0.1:${rtmpsPort} ssl;
    ssl_certificate ${selfSignedCertificate(dir)}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    proxy_pass 127.0.0.1:${rtmpPort};
  }
}
`;
    return new Nginx(dir, rtmpPort, hlsDir, httpPort, `${tls ? 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n' : ''}worker_processes 1;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:${rtmpPort};
    application live {
      live on;
      record off;
      hls on;
      hls_path ${hlsDir};
      hls_fragment 1s;
      hls_playlist_length 6s;
    }
  }
}
${httpPort === undefined ? '' : http}${tls}`);
  }

  /** docker/nginx.conf on loopback ports; its HLS in `<dir>/hls`, its DASH in `<dir>/dash`. */
  static fromDockerConf(dir: string, shipped: string, rtmpPort: number, httpPort: number): Nginx {
    const replace = (text: string, from: string | RegExp, to: string): string => {
      if (!(typeof from === 'string' ? text.includes(from) : from.test(text))) throw new Error(`docker/nginx.conf no longer has ${from}`);
      return text.replace(from, to);
    };
    let conf = readFileSync(shipped, 'utf8');
    conf = replace(conf, /^worker_processes .*$/m, 'worker_processes 1;');
    conf = replace(conf, 'listen 1935;', `listen 127.0.0.1:${rtmpPort};`);
    conf = replace(conf, 'listen 8080;', `listen 127.0.0.1:${httpPort};`);
    conf = replace(conf, 'deny publish all;', 'allow publish 127.0.0.1;\n      deny publish all;');
    conf = conf.replaceAll('/tmp', dir);
    mkdirSync(join(dir, 'dash'), { recursive: true });
    return new Nginx(dir, rtmpPort, join(dir, 'hls'), httpPort, conf);
  }

  /** Starts nginx and resolves once its RTMP port takes connections. */
  async start(): Promise<void> {
    const child = spawn('nginx', ['-c', this.conf, '-p', this.dir], { stdio: 'ignore' });
    this.process = child;
    for (const until = Date.now() + 10_000; !(await accepts(this.rtmpPort)); ) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`nginx did not start (see ${this.dir}/nginx-error.log)`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGTERM');
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A throw-away certificate for 127.0.0.1 (cert.pem, key.pem) in `dir`; returns `dir`. */
function selfSignedCertificate(dir: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  return dir;
}

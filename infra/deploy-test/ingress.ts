import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { containerIp, httpStatusOf, logsOf, startContainer } from './containers';
import type { StandIns } from './stand-ins';
import type { IngressPath, Manifests } from './manifests';
import { fail } from './report';

/**
 * nginx configuration for the Ingress of infra/k8s, written the way ingress-nginx writes its own:
 * one server per host, one `location ~*` per path when the Ingress uses regular expressions
 * (nginx.ingress.kubernetes.io/use-regex), a prefix location otherwise, longest path first (nginx
 * takes the first regex that matches; ingress-nginx orders them so), the proxy headers
 * ingress-nginx sets, TLS terminated here (HTTPS in front, plain HTTP to the Services), and 404 for
 * any other path (ingress-nginx's default backend).
 */
export function nginxConfig(paths: IngressPath[], useRegex: boolean): string {
  const hosts = [...new Set(paths.map((p) => p.host))];
  const servers = hosts.map((host) => {
    const own = paths.filter((p) => p.host === host).sort((a, b) => b.path.length - a.path.length);
    const locations = own.map((p) => {
      const match = useRegex ? `~* "^${p.path}"` : p.path;
      return [
        `    location ${match} {`,
        `      proxy_pass http://${p.service}:${p.port};`,
        '      proxy_http_version 1.1;',
        '      proxy_set_header Host $host;',
        '      proxy_set_header X-Request-ID $request_id;',
        '      proxy_set_header X-Real-IP $remote_addr;',
        '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
        '      proxy_set_header X-Forwarded-Proto $scheme;',
        '      proxy_set_header X-Forwarded-Host $host;',
        '    }',
      ].join('\n');
    });
    return [
      '  server {',
      '    listen 80;',
      '    listen 443 ssl;',
      `    server_name ${host};`,
      '    ssl_certificate /etc/nginx/tls/tls.crt;',
      '    ssl_certificate_key /etc/nginx/tls/tls.key;',
      ...locations,
      ...(!useRegex && own.some((p) => p.path === '/') ? [] : ['    location / { return 404; }']),
      '  }',
    ].join('\n');
  });
  return [
    'worker_processes 1;',
    'error_log stderr warn;',
    'pid /run/nginx.pid;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    '  client_body_temp_path /tmp;',
    '  proxy_temp_path /tmp;',
    ...servers,
    '}',
    '',
  ].join('\n');
}

const INGRESS_CONTROLLER_ALIAS = 'ingress-nginx-controller.ingress-nginx.svc.cluster.local';

export interface Ingress {
  ip: string;
  host: string;
  ca: string;
}

/** Starts nginx configured from ingress.yaml, with a self-signed certificate for its host. */
export async function startIngress(m: Manifests, s: StandIns, work: string): Promise<Ingress> {
  const tls = path.join(work, 'tls');
  mkdirSync(tls, { recursive: true });
  const host = m.ingress[0]?.host ?? fail('infra/k8s has no Ingress path');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
      '-keyout',
      path.join(tls, 'tls.key'),
      '-out',
      path.join(tls, 'tls.crt'),
    ],
    { stdio: 'ignore' },
  );
  const conf = path.join(work, 'nginx.conf');
  writeFileSync(conf, nginxConfig(m.ingress, m.useRegex));
  const name = await startContainer('ingress', [
    // The in-cluster name of ingress-nginx's controller, which the web client's server-side
    // rendering calls (its Deployment's API_URL).
    '--network-alias',
    INGRESS_CONTROLLER_ALIAS,
    '--volume',
    `${conf}:/etc/nginx/nginx.conf:ro`,
    '--volume',
    `${tls}:/etc/nginx/tls:ro`,
    s.ingress,
  ]);
  const ip = await containerIp(name);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await httpStatusOf(`http://${ip}/`);
      break;
    } catch (error) {
      if (Date.now() > deadline) fail(`the ingress does not answer: ${String(error)}\n${logsOf(name)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { ip, host, ca: readFileSync(path.join(tls, 'tls.crt'), 'utf8') };
}

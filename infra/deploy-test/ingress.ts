import type { IngressPath } from './manifests';

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

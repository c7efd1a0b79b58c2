#!/usr/bin/env node
// serve.js - the static server behind `npm start` (and the browser tests).
//
//   /            web/ (the studio page, web/index.html; the JS API and its worker)
//   /wasm/...    wasm/ (the Emscripten build: softprompt*.js, .wasm, -mt.worker.js)
//   /models/...  read-only model files from the shared folder (SP_SHARED or ../shared)/models
//   /vendor/jinja/  @huggingface/jinja's ES module (dist/), which web/chat.js imports by its bare
//                name for chat templates; the pages map the name there with an import map
//
// Every response carries the headers that make the page cross-origin isolated, so the engine can
// use threads (SharedArrayBuffer): Cross-Origin-Opener-Policy: same-origin,
// Cross-Origin-Embedder-Policy: require-corp, Cross-Origin-Resource-Policy: same-origin.
// Simple GET/HEAD only (Range is ignored: always the whole file), correct MIME types, no
// directory listings, no path traversal, no dotfiles.
//
//   PORT=8080 node scripts/serve.js      (PORT=0 picks a free port; HOST defaults to 127.0.0.1)
// prints: softprompt demo: http://localhost:PORT/

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.jsonl': 'application/jsonl; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.gguf': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.model': 'application/octet-stream',
};

export const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

function sharedModels() {
  const shared = process.env.SP_SHARED || path.resolve(REPO, '..', 'shared');
  return path.join(shared, 'models');
}

/** Map a URL path to a file under one of the mounts, or null. */
export function resolvePath(urlPath, mounts) {
  if (urlPath.includes('\0') || urlPath.includes('\\')) return null;
  const segs = urlPath.split('/');
  if (segs.some((s) => s === '..' || (s.startsWith('.') && s !== ''))) return null;
  for (const [prefix, dir] of mounts) {
    if (urlPath === prefix.replace(/\/$/, '') && prefix !== '/') return { dir, rel: '', redirect: prefix };
    if (!urlPath.startsWith(prefix)) continue;
    const rel = urlPath.slice(prefix.length);
    const file = path.resolve(dir, '.' + path.posix.normalize('/' + rel));
    const root = path.resolve(dir);
    if (file !== root && !file.startsWith(root + path.sep)) return null;
    return { dir: root, rel, file };
  }
  return null;
}

function send(res, status, body, headers = {}) {
  const b = Buffer.from(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': b.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : b);
}

/**
 * Start the server.
 * @param {{port?: number, host?: string, root?: string, modelsDir?: string, quiet?: boolean,
 *          onRequest?: (r: {method: string, url: string, status: number}) => void}} [options]
 *   root: the repository folder (default: this repo); web/ and wasm/ are served from it.
 * @returns {Promise<{url: string, port: number, server: http.Server, requests: object[],
 *          close: (cb?: () => void) => Promise<void>, closeAllConnections: () => void}>}
 */
export function startServer(options = {}) {
  const root = path.resolve(options.root ?? REPO);
  const mounts = [
    ['/wasm/', path.join(root, 'wasm')],
    ['/models/', options.modelsDir ?? sharedModels()],
    ['/vendor/jinja/', path.join(root, 'node_modules', '@huggingface', 'jinja', 'dist')],
    ['/', path.join(root, 'web')],
  ];
  const requests = [];
  const host = options.host ?? process.env.HOST ?? '127.0.0.1';
  let port = options.port ?? (process.env.PORT !== undefined && process.env.PORT !== '' ? Number(process.env.PORT) : 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return Promise.reject(new Error(`PORT must be a number in 0..65535 (got ${options.port ?? process.env.PORT})`));
  }

  const server = http.createServer((req, res) => {
    const log = (status) => {
      const r = { method: req.method, url: req.url, status };
      requests.push(r);
      if (options.onRequest) options.onRequest(r);
    };
    res.on('finish', () => log(res.statusCode));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      send(res, 400, 'bad request\n');
      return;
    }
    const hit = resolvePath(urlPath, mounts);
    if (!hit) {
      send(res, 404, 'not found\n');
      return;
    }
    if (hit.redirect) {
      send(res, 301, `moved to ${hit.redirect}\n`, { Location: hit.redirect });
      return;
    }
    let file = hit.file;
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        if (!urlPath.endsWith('/')) {
          send(res, 301, `moved to ${urlPath}/\n`, { Location: encodeURI(urlPath + '/') });
          return;
        }
        file = path.join(file, 'index.html');
        try {
          st = fs.statSync(file);
        } catch (e) {
          err = e;
        }
      }
      if (err || !st.isFile()) {
        send(res, 404, 'not found\n');
        return;
      }
      // no escaping through symlinks
      let real;
      try {
        real = fs.realpathSync(file);
      } catch {
        send(res, 404, 'not found\n');
        return;
      }
      const realRoot = fs.realpathSync(hit.dir);
      if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
        send(res, 404, 'not found\n');
        return;
      }
      const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'Content-Type': type,
        'Content-Length': st.size,
        'Cache-Control': 'no-cache',
        'Last-Modified': st.mtime.toUTCString(),
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const stream = fs.createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      port = server.address().port;
      const url = `http://localhost:${port}/`;
      if (!options.quiet) console.log(`softprompt demo: ${url}`);
      resolve({
        url,
        port,
        server,
        requests,
        closeAllConnections: () => server.closeAllConnections?.(),
        close(cb) {
          return new Promise((r) => {
            server.close(() => {
              if (cb) cb();
              r();
            });
            server.closeAllConnections?.();
          });
        },
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  startServer().then((s) => {
    const stop = () => s.close(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }, (e) => {
    console.error(`softprompt serve: error: ${e.code === 'EADDRINUSE' ? `port ${e.port} is in use (set PORT)` : e.message}`);
    process.exit(1);
  });
}

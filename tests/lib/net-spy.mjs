// net-spy.mjs - preload (node --import) that records every way a process could reach the network,
// in the main thread AND in every worker thread (workers inherit --import):
//   fetch, XMLHttpRequest, WebSocket, EventSource, navigator.sendBeacon (globals a library might use),
//   http/https request/get, and the socket layer underneath them all (net.Socket#connect, dgram send).
// Each attempt is written to stderr as one line: NETSPY <thread> <kind> <target>
// It records; it does not block (the caller asserts on the lines).
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import dgram from 'node:dgram';
import { syncBuiltinESMExports } from 'node:module';
import { isMainThread, threadId } from 'node:worker_threads';

const who = isMainThread ? 'main' : `worker${threadId}`;
const log = (kind, target) => {
  try {
    fs.writeSync(2, `NETSPY ${who} ${kind} ${String(target).replace(/\s+/g, '%20')}\n`);
  } catch { /* stderr closed */ }
};

if (typeof globalThis.fetch === 'function') {
  const orig = globalThis.fetch;
  globalThis.fetch = function spiedFetch(input, init) {
    log('fetch', typeof input === 'string' ? input : input?.url ?? input?.href ?? input);
    return orig.call(this, input, init);
  };
}
for (const name of ['XMLHttpRequest', 'WebSocket', 'EventSource']) {
  const Orig = globalThis[name];
  globalThis[name] = function Spied(url, ...rest) {
    log(name, url ?? '(constructed)');
    if (typeof Orig === 'function') return new Orig(url, ...rest);
    throw new Error(`${name} is not available`);
  };
}
const nav = globalThis.navigator;
if (nav) {
  try {
    Object.defineProperty(nav, 'sendBeacon', { configurable: true, value: (url) => { log('sendBeacon', url); return true; } });
  } catch { /* read-only navigator */ }
}

const origConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function spiedConnect(...args) {
  const o = args[0];
  const target = Array.isArray(o) ? o[0] : o;
  if (target && typeof target === 'object') log('socket', target.path ?? `${target.host ?? 'localhost'}:${target.port}`);
  else log('socket', `${args[1] ?? 'localhost'}:${target}`);
  return origConnect.apply(this, args);
};
for (const [modName, mod] of [['http', http], ['https', https]]) {
  for (const fn of ['request', 'get']) {
    const orig = mod[fn];
    mod[fn] = function spied(...args) {
      const a = args[0];
      log(`${modName}.${fn}`, typeof a === 'string' || a instanceof URL ? a : `${a?.host ?? a?.hostname}:${a?.port}${a?.path ?? ''}`);
      return orig.apply(this, args);
    };
  }
}
const origSend = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function spiedSend(...args) {
  log('udp', args.slice(1).filter((x) => typeof x !== 'function').join(':'));
  return origSend.apply(this, args);
};
syncBuiltinESMExports();
log('ready', 'spy');

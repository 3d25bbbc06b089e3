// One hop of the node-http-proxy pair, run as its own process:
//   node node-http-proxy-hop.js client <listenPort> <serverHopPort> <certDir>
//   node node-http-proxy-hop.js server <listenPort> <nginxPort> <certDir>
// The client hop is a plain HTTP server forwarding over mTLS to the server
// hop; the server hop is an HTTPS server (client certificate required, TLS
// 1.3) forwarding to nginx with a keep-alive agent.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import httpProxy from 'http-proxy';

const [mode, listenArg, targetArg, certDir] = process.argv.slice(2);
if (!mode || !listenArg || !targetArg || !certDir) {
  console.error('usage: node-http-proxy-hop.js client|server <listenPort> <targetPort> <certDir>');
  process.exit(2);
}
const listenPort = Number(listenArg);
const targetPort = Number(targetArg);
const read = (f: string) => fs.readFileSync(path.join(certDir, f));
const ca = read('ca.pem');
const proxy = httpProxy.createProxyServer({ xfwd: false });
proxy.on('error', (err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`node-http-proxy: ${err.message}\n`);
  } else {
    res.destroy();
  }
});

let server: http.Server;
if (mode === 'client') {
  const agent = new https.Agent({ keepAlive: true, key: read('client.key'), cert: read('client.crt'), ca, minVersion: 'TLSv1.3' });
  const target = `https://localhost:${targetPort}`;
  server = http.createServer((req, res) => proxy.web(req, res, { target, agent, secure: true }));
} else {
  const agent = new http.Agent({ keepAlive: true });
  const target = `http://127.0.0.1:${targetPort}`;
  server = https.createServer(
    { key: read('server.key'), cert: read('server.crt'), ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
    (req, res) => proxy.web(req, res, { target, agent }),
  );
}
server.keepAliveTimeout = 60_000;
server.listen(listenPort, '127.0.0.1', () => console.log(`listening on ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));

// TCP echo server: writes every byte back. When the client half-closes (ends
// its side), the server finishes echoing and then ends its own side.
// Env: PORT (default 9000).

import net from 'node:net';

const port = /^\d+$/.test(process.env.PORT ?? '') ? Number(process.env.PORT) : 9000; // PORT=0: any free port

const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  // pipe() ends the socket's writable side when its readable side ends,
  // i.e. after the echoed bytes are flushed: the half-close is mirrored.
  socket.pipe(socket);
});

server.on('error', (err) => {
  console.error(`tcp-echo: cannot listen on ${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => console.log(`tcp-echo listening on ${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

// A minimal Redis client for one command: connect, send the command in RESP,
// read one reply, close. What the "apache" tier uses for /redis/* (the counter
// app uses the real `redis` client). Node built-ins only.

import net from 'node:net';

/** `['GET', 'time']` → the RESP array of bulk strings Redis expects. */
export function encodeCommand(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
  return out;
}

/**
 * Parses one RESP value at `pos` of `buf`: { value, end } or undefined when
 * more bytes are needed. An error reply is { error: 'ERR ...' }.
 */
export function parseReply(buf, pos = 0) {
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return undefined;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: { error: line }, end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`not a RESP reply (starts with ${JSON.stringify(type)})`);
  }
}

/**
 * Sends one command to host:port and resolves with its reply. Rejects with
 * err.code 'ECLOSED' when the server (or, in the mesh, a sidecar) closes the
 * connection before a whole reply arrived, 'ETIMEDOUT' after `timeoutMs`, or
 * the socket's error (ECONNREFUSED, ECONNRESET, ...).
 */
export function redisCommand(host, port, args, { timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () => finish(Object.assign(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      try {
        const reply = parseReply(buf);
        if (reply) finish(undefined, reply.value);
      } catch (err) {
        finish(err);
      }
    });
    socket.on('end', () =>
      finish(Object.assign(new Error(`${host}:${port} closed the connection before replying`), { code: 'ECLOSED' })),
    );
    socket.on('close', () =>
      finish(Object.assign(new Error(`${host}:${port} closed the connection before replying`), { code: 'ECLOSED' })),
    );
    socket.on('error', (err) => finish(err));
  });
}

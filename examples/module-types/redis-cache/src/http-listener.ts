import * as http from 'node:http';

/** Starts `server` on 127.0.0.1:`port`; rejects (and binds nothing) when the port is taken. */
export function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (port > 65535) return reject(new Error(`port ${port} (port plus offset) is above 65535`));
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops listening and ends open connections, so the port is free when it resolves. */
export function closeListener(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export class BodyTooLargeError extends Error {}

/** The request body as text; rejects with BodyTooLargeError beyond `limitBytes`. */
export function readBody(req: http.IncomingMessage, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained, not kept, so that the 413 still reaches the client.
      if (size > limitBytes)
        reject(new BodyTooLargeError(`the value is larger than ${limitBytes} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

import { request } from 'node:http';

/**
 * A POST through node:http, its socket closed before the step ends: fetch would leave its dispatcher in the
 * step thread, and an open socket would be left running; either retires the thread.
 */
export function ask(url) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      // Resolved once the server has closed the connection: a step thread must leave no handle running.
      res.on('end', () => {
        const { socket } = res;
        if (socket.closed) resolve(body);
        else socket.once('close', () => resolve(body));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

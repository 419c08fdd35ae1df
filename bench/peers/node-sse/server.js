'use strict';
// The seed's Node SSE baseline, rebuilt for bench/run.sh: the same REPL routes as Repl, a broker with an
// in-process queue, and a fan-out that writes every message to every connected response (one res.write per
// message per client). Each message is serialised to JSON once (the seed's own optimisation), not per client.
// No journal: a publish is acknowledged once it is queued.
const fastify = require('fastify');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port', '9100'));
const pingMs = Number(opt('--ping-ms', '15000'));

class Broker {
  constructor() {
    this.topics = new Map(); // name -> Set of raw responses
    this.queue = [];
    this.position = 0;
    this.scheduled = false;
  }
  create(name) {
    if (this.topics.has(name)) return false;
    this.topics.set(name, new Set());
    return true;
  }
  publish(topic, value, headers) {
    const message = { id: String(++this.position), topic, value, headers, createdAt: new Date().toISOString() };
    const json = JSON.stringify(message);
    this.queue.push({ topic, id: message.id, json });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
    return json;
  }
  drain() {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const { topic, id, json } of queue) {
      const clients = this.topics.get(topic);
      if (!clients) continue;
      const frame = `id: ${id}\ndata: ${json}\n\n`;
      for (const res of clients) res.write(frame);
    }
  }
}

const broker = new Broker();
broker.create('demo');
const app = fastify({ logger: false, bodyLimit: 1024 * 1024 });

app.get('/health', async () => ({ status: 'up', node: 'node-sse' }));
app.get('/topics', async () => [...broker.topics.keys()].sort());
app.post('/topics', async (request, reply) => {
  const name = request.body && request.body.name;
  if (typeof name !== 'string' || name.length === 0) return reply.code(400).send({ error: 'missing name' });
  if (!broker.create(name)) return reply.code(409).send({ error: 'topic exists' });
  return reply.code(201).send({ message: 'topic created' });
});
app.post('/topics/:topic', async (request, reply) => {
  const topic = request.params.topic;
  if (!broker.topics.has(topic)) return reply.code(404).send({ error: 'topic not found' });
  const body = request.body || {};
  const value = typeof body.value === 'string' ? body.value : JSON.stringify(body.value ?? '');
  const json = broker.publish(topic, value, body.headers || {});
  return reply.code(201).type('application/json').send(`{"message":"message published","data":${json}}`);
});
app.get('/topics/:topic/sse', (request, reply) => {
  const topic = request.params.topic;
  const clients = broker.topics.get(topic);
  if (!clients) return reply.code(404).send({ error: 'topic not found' });
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  res.write(`retry: 2000\nevent: connected\ndata: {"topics":[${JSON.stringify(topic)}],"node":"node-sse","position":${broker.position}}\n\n`);
  clients.add(res);
  const ping = setInterval(() => res.write('event: ping\ndata: {}\n\n'), pingMs);
  request.raw.on('close', () => {
    clearInterval(ping);
    clients.delete(res);
  });
});

app.listen({ host, port }).then(() => console.log(`node-sse listening on http://${host}:${port}`)).catch((error) => {
  console.error(error);
  process.exit(1);
});

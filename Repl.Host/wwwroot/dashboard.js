// Repl dashboard: polls the node's REST routes, draws message rates as sparklines, shows each
// topic's presence, tails a topic over SSE with the Repl client, publishes and creates topics.
import { createClient, ReplError } from '/client/repl-client.js';

const repl = createClient({ url: '/' });
const params = new URLSearchParams(location.search);
// ?poll=ms overrides the refresh period (the default 2 s suits people; tests use less).
const POLL_MS = Math.max(250, Number(params.get('poll')) || 2000);
const HISTORY = 30; // samples kept per sparkline: one minute at the default period
const TAIL_MAX = 200;
const PRESENCE_PAGE = 100; // clients listed when a topic's presence is clicked (the first page)

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) if (child != null) node.append(child);
  return node;
};
const fmt = new Intl.NumberFormat('en');
const fmtRate = (r) => (r >= 100 ? fmt.format(Math.round(r)) : r.toFixed(r >= 10 ? 1 : 2).replace(/\.?0+$/, '') || '0');

/** name → { info, samples: number[] (msg/s), at: ms of last poll, presence: {clients, users} | 'off' | null (unknown) } */
const topics = new Map();
const totalRates = [];
let selected = '';
let presenceShown = ''; // the topic whose clients the presence panel lists

// ---------- sparkline ----------

const SVG = 'http://www.w3.org/2000/svg';

/** Draws `values` (oldest first) into an <svg> as an area + line, scaled to its own maximum. */
function sparkline(svg, values, color = '#4f46e5') {
  const width = Number(svg.getAttribute('width'));
  const height = Number(svg.getAttribute('height'));
  svg.replaceChildren();
  if (values.length === 0) return;
  const max = Math.max(1, ...values);
  const step = width / Math.max(1, HISTORY - 1);
  const x0 = width - step * (values.length - 1);
  const pts = values.map((v, i) => [x0 + i * step, height - 2 - (v / max) * (height - 4)]);
  const line = pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const area = document.createElementNS(SVG, 'polygon');
  area.setAttribute('points', `${x0.toFixed(1)},${height} ${line} ${width},${height}`);
  area.setAttribute('fill', color);
  area.setAttribute('fill-opacity', '0.12');
  const poly = document.createElementNS(SVG, 'polyline');
  poly.setAttribute('points', line);
  poly.setAttribute('fill', 'none');
  poly.setAttribute('stroke', color);
  poly.setAttribute('stroke-width', '1.5');
  poly.setAttribute('stroke-linejoin', 'round');
  const [lx, ly] = pts[pts.length - 1];
  const dot = document.createElementNS(SVG, 'circle');
  dot.setAttribute('cx', lx.toFixed(1));
  dot.setAttribute('cy', ly.toFixed(1));
  dot.setAttribute('r', '2');
  dot.setAttribute('fill', color);
  svg.append(area, poly, dot);
}

// ---------- polling ----------

async function getJson(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  if (!res.ok) {
    const err = new Error(`${path}: ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

/**
 * Messages published to a topic since the previous poll. Positions are shared by all topics,
 * so the count comes from the topic's own message count — unless retention trimmed it in
 * between, in which case the history route counts what follows the previous last position.
 */
async function newMessages(name, prev, info) {
  if (!prev || info.lastPosition === prev.lastPosition) return 0;
  if (prev.firstPosition === 0 || info.firstPosition === prev.firstPosition) return Math.max(0, info.messages - prev.messages);
  try {
    const page = await getJson(`/topics/${encodeURIComponent(name)}/messages?after=${prev.lastPosition}&limit=1000`);
    return page.messages.length;
  } catch {
    return 0;
  }
}

/**
 * A topic's presence counts, cluster-wide: `{clients, users}`, 'off' when its presence is off (a 404
 * `presence off`, or its own setting false), null when the node cannot say (e.g. 403, 503).
 */
async function presenceOf(info) {
  if (info.settings?.presence === false) return 'off';
  try {
    return await getJson(`/topics/${encodeURIComponent(info.name)}/presence/stats`);
  } catch (err) {
    return err.status === 404 ? 'off' : null;
  }
}

async function poll() {
  const now = performance.now();
  try {
    const [health, names] = await Promise.all([getJson('/health'), getJson('/topics')]);
    renderHealth(health, true);
    const infos = await Promise.all(
      names.map((name) => getJson(`/topics/${encodeURIComponent(name)}`).catch(() => null)),
    );
    const presence = await Promise.all(infos.map((info) => (info ? presenceOf(info) : null)));
    const seen = new Set();
    let total = 0;
    for (const [index, info] of infos.entries()) {
      if (!info) continue; // deleted between the list and the lookup
      seen.add(info.name);
      const entry = topics.get(info.name) ?? { info: null, samples: [], at: now };
      const added = await newMessages(info.name, entry.info, info);
      const seconds = Math.max(0.001, (now - entry.at) / 1000);
      if (entry.info) {
        const rate = added / seconds;
        entry.samples.push(rate);
        if (entry.samples.length > HISTORY) entry.samples.shift();
        total += rate;
      }
      entry.info = info;
      entry.presence = presence[index];
      entry.at = now;
      topics.set(info.name, entry);
    }
    for (const name of [...topics.keys()]) if (!seen.has(name)) topics.delete(name);
    totalRates.push(total);
    if (totalRates.length > HISTORY) totalRates.shift();
    renderTopics();
    if (presenceShown) await refreshPresence();
    $('topics-updated').textContent = `updated ${new Date().toLocaleTimeString()} · every ${POLL_MS / 1000} s`;
  } catch (err) {
    renderHealth(null, false, err);
  }
  pollCluster();
}

function renderHealth(health, ok, err) {
  $('node-dot').className = `dot ${ok ? 'ok' : 'bad'}`;
  $('node-status').textContent = ok ? health.status : `unreachable${err?.status ? ` (${err.status})` : ''}`;
  if (!health) return;
  $('node-id').textContent = health.node;
  $('node-mode').textContent = health.mode;
  $('node-position').textContent = fmt.format(health.position);
  $('node-streams').textContent = fmt.format(health.streams);
}

function renderTopics() {
  const tbody = $('topics').tBodies[0];
  const rows = [...topics.values()].sort((a, b) => a.info.name.localeCompare(b.info.name));
  $('topics-empty').hidden = rows.length > 0;
  const existing = new Map([...tbody.rows].map((row) => [row.dataset.topic, row]));
  let subscribers = 0;
  let messages = 0;
  rows.forEach(({ info, samples, presence }, index) => {
    subscribers += info.subscribers;
    messages += info.messages;
    let row = existing.get(info.name);
    if (!row) {
      row = el('tr');
      row.dataset.topic = info.name;
      const spark = document.createElementNS(SVG, 'svg');
      spark.setAttribute('width', '96');
      spark.setAttribute('height', '22');
      spark.setAttribute('aria-hidden', 'true');
      row.append(
        el('td', { className: 'topic-name', title: info.name, textContent: info.name }),
        el('td', { className: 'num subscribers' }),
        el('td', { className: 'num presence' }),
        el('td', { className: 'num messages' }),
        el('td', { className: 'num rate' }, el('div', { className: 'cell' }, spark, el('span'))),
      );
      row.addEventListener('click', () => tail(info.name));
      row.querySelector('.presence').addEventListener('click', (e) => {
        e.stopPropagation(); // the list, not the tail
        showPresence(info.name);
      });
    }
    existing.delete(info.name);
    if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] ?? null);
    row.classList.toggle('selected', info.name === selected);
    const subs = row.querySelector('.subscribers');
    subs.replaceChildren(el('span', { className: `badge${info.subscribers > 0 ? ' live' : ''}`, textContent: fmt.format(info.subscribers) }));
    renderPresenceCell(row.querySelector('.presence'), presence);
    row.querySelector('.messages').textContent = fmt.format(info.messages);
    const now = samples.length ? samples[samples.length - 1] : 0;
    const average = samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : 0;
    sparkline(row.querySelector('svg'), samples);
    row.querySelector('.rate span').textContent = `${fmtRate(average)}/s`;
    row.querySelector('.rate').title = `now ${fmtRate(now)}/s · peak ${fmtRate(Math.max(0, ...samples))}/s`;
  });
  for (const row of existing.values()) row.remove();

  $('stat-topics').textContent = fmt.format(rows.length);
  $('stat-subscribers').textContent = fmt.format(subscribers);
  $('stat-messages').textContent = fmt.format(messages);
  $('stat-rate').textContent = fmtRate(totalRates[totalRates.length - 1] ?? 0);
  sparkline($('stat-spark'), totalRates, '#0891b2');

  // Topic pickers: the tail <select> and the publish box's <datalist>.
  const names = rows.map((r) => r.info.name);
  const select = $('tail-topic');
  const current = [...select.options].slice(1).map((o) => o.value);
  if (names.join('\n') !== current.join('\n')) {
    select.replaceChildren(el('option', { value: '', textContent: '— choose a topic —' }), ...names.map((n) => el('option', { value: n, textContent: n })));
    select.value = selected && names.includes(selected) ? selected : '';
    $('topic-names').replaceChildren(...names.map((n) => el('option', { value: n })));
  }
}

// ---------- presence ----------

function renderPresenceCell(cell, presence) {
  cell.classList.toggle('off', presence === 'off');
  if (presence === 'off') {
    cell.textContent = 'off';
    cell.title = 'presence is off for this topic (PATCH {"presence":true} or Topics:Presence turns it on)';
  } else if (presence) {
    cell.replaceChildren(
      el('span', { className: `badge${presence.clients > 0 ? ' live' : ''}`, textContent: fmt.format(presence.clients) }),
      el('span', { className: 'users', textContent: `· ${fmt.format(presence.users)}` }),
    );
    cell.title = `${presence.clients} clients, ${presence.users} users, cluster-wide; click for the list`;
  } else {
    cell.textContent = '–';
    cell.title = 'presence unavailable';
  }
}

function showPresence(name) {
  presenceShown = name;
  $('presence-topic').textContent = name;
  $('presence-panel').hidden = false;
  refreshPresence();
}

/** The first page of the shown topic's clients (`GET /topics/{name}/presence`), refreshed with every poll. */
async function refreshPresence() {
  const name = presenceShown;
  let page;
  try {
    page = await getJson(`/topics/${encodeURIComponent(name)}/presence?limit=${PRESENCE_PAGE}`);
  } catch (err) {
    page = null;
    if (name === presenceShown) $('presence-summary').textContent = err.status === 404 ? 'presence off' : `unavailable${err.status ? ` (${err.status})` : ''}`;
  }
  if (name !== presenceShown) return; // another topic was clicked meanwhile
  const clients = page?.clients ?? [];
  if (page) {
    $('presence-summary').textContent = page.total > clients.length ? `first ${clients.length} of ${fmt.format(page.total)}` : `${fmt.format(page.total)} client${page.total === 1 ? '' : 's'}`;
  }
  $('presence-empty').hidden = !page || clients.length > 0;
  $('presence-clients').tBodies[0].replaceChildren(
    ...clients.map((c) =>
      el(
        'tr',
        {},
        el('td', { className: 'client', title: c.client, textContent: c.client }),
        el('td', { textContent: c.user ?? '–' }),
        el('td', { textContent: c.node }),
        el('td', { title: c.since, textContent: new Date(c.since).toLocaleTimeString() }),
      ),
    ),
  );
}

$('presence-close').addEventListener('click', () => {
  presenceShown = '';
  $('presence-panel').hidden = true;
});

// ---------- cluster ----------

let clusterGone = false;

/**
 * GET /cluster — `{mode, node, applied, status, members: [{id, url, status, applied, lag, self}], etcd}`:
 * shown when the node answers 200, hidden otherwise (a node without the route answers 404).
 */
async function pollCluster() {
  if (clusterGone) return;
  let res;
  try {
    res = await fetch('/cluster', { headers: { Accept: 'application/json' } });
  } catch {
    return;
  }
  const panel = $('cluster-panel');
  if (res.status === 404) {
    panel.hidden = true;
    clusterGone = true; // no cluster route on this node: stop asking
    return;
  }
  let data;
  try {
    data = res.ok ? await res.json() : null;
  } catch {
    data = null;
  }
  if (!data || typeof data !== 'object') {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const members = Array.isArray(data) ? data : (data.members ?? data.nodes ?? []);
  const summary = [`${members.length} member${members.length === 1 ? '' : 's'}`];
  if (data.mode) summary.push(data.mode);
  if (data.status) summary.push(data.status);
  if (data.etcd?.leader) summary.push(`etcd leader ${data.etcd.leader}`);
  $('cluster-summary').textContent = summary.join(' · ');

  const rows = members.map((m) => {
    if (m === null || typeof m !== 'object') return el('div', { className: 'member' }, el('span', { className: 'name', textContent: String(m) }));
    const name = String(m.id ?? m.name ?? m.node ?? '?');
    const status = String(m.status ?? m.state ?? '');
    const detail = [m.url, m.applied != null ? `applied ${fmt.format(m.applied)}` : null, m.lag ? `lag ${fmt.format(m.lag)}` : null, status]
      .filter((x) => x != null && x !== '')
      .join(' · ');
    return el(
      'div',
      { className: 'member' },
      el('span', { className: `dot ${statusClass(status)}` }),
      el('span', { className: 'name', textContent: name }),
      m.self ? el('span', { className: 'badge live', textContent: 'this node' }) : null,
      el('span', { className: 'detail', textContent: detail }),
    );
  });
  // The etcd cluster the log lives in, endpoint by endpoint.
  const endpoints = data.etcd?.endpoints ?? [];
  if (endpoints.length) {
    rows.push(el('div', { className: 'cluster-sub', textContent: 'etcd' }));
    for (const e of endpoints) {
      const detail = [e.leader ? 'leader' : null, e.version ? `v${e.version}` : null, e.raftIndex != null ? `raft ${fmt.format(e.raftIndex)}` : null, e.error ?? e.status]
        .filter(Boolean)
        .join(' · ');
      rows.push(el('div', { className: 'member' }, el('span', { className: `dot ${statusClass(e.status)}` }), el('span', { className: 'name', textContent: e.url }), el('span', { className: 'detail', textContent: detail })));
    }
  }
  $('cluster-members').replaceChildren(...rows);
  $('cluster-raw').textContent = JSON.stringify(data, null, 2);
}

function statusClass(status) {
  if (!status) return '';
  if (/down|dead|unreachable|fail|offline|lost|cut off|no leader/i.test(status)) return 'bad';
  if (/^(up|alive|ok|ready|leader|follower|member|active|healthy|online)\b/i.test(status)) return 'ok';
  return 'warn'; // lagging, joining, …
}

// ---------- live tail ----------

let unsubscribe = null;

function setTailStatus(text, live = false) {
  const badge = $('tail-status');
  badge.textContent = text;
  badge.className = `badge${live ? ' live' : ''}`;
}

function tailLine(node) {
  const box = $('tail');
  box.querySelector('.placeholder')?.remove();
  box.prepend(node);
  while (box.childElementCount > TAIL_MAX) box.lastElementChild.remove();
}

function renderValue(value) {
  try {
    const parsed = JSON.parse(value);
    if (parsed !== null && typeof parsed === 'object') return JSON.stringify(parsed, null, 2);
  } catch {
    // not JSON: show as sent
  }
  return value;
}

function tail(name) {
  if (name === selected && unsubscribe) return;
  unsubscribe?.();
  unsubscribe = null;
  selected = name;
  $('tail-topic').value = name;
  for (const row of $('topics').tBodies[0].rows) row.classList.toggle('selected', row.dataset.topic === name);
  $('tail').replaceChildren(el('div', { className: 'placeholder', textContent: name ? `Waiting for messages on ${name}…` : 'Pick a topic (or click a row) to follow its messages live.' }));
  if (!name) {
    setTailStatus('idle');
    return;
  }
  if (!$('pub-topic').value) $('pub-topic').value = name;
  setTailStatus('connecting');
  unsubscribe = repl.subscribe(
    name,
    (m) => {
      const headers = Object.entries(m.headers ?? {}).map(([k, v]) => el('span', { className: 'hdr', textContent: `${k}=${v}` }));
      tailLine(
        el(
          'div',
          { className: 'msg' },
          el('div', { className: 'meta' }, el('span', { className: 'id', textContent: `#${m.id}` }), el('span', { textContent: new Date(m.createdAt).toLocaleTimeString() }), ...headers),
          el('div', { className: 'value', textContent: renderValue(m.value) }),
        ),
      );
    },
    {
      onStatus: (status, detail) => setTailStatus(detail?.reason && status !== 'open' ? `${status} (${detail.reason})` : status, status === 'open'),
      onGap: (g) => tailLine(el('div', { className: 'msg gap', textContent: `gap: history after #${g.requested} is gone; resuming at #${g.oldest}` })),
      onError: (e) => console.warn('[dashboard] tail', e),
    },
  );
}

$('tail-topic').addEventListener('change', (e) => tail(e.target.value));
$('tail-clear').addEventListener('click', () => $('tail').replaceChildren());

// ---------- publish / create ----------

function note(id, text, kind) {
  const n = $(id);
  n.textContent = text;
  n.className = `note ${kind}`;
}

const describe = (err) => (err instanceof ReplError ? `${err.status || 'network'} ${err.error}${err.cause ? ` — ${err.cause}` : ''}` : String(err));

function parseHeaders(text) {
  const headers = {};
  for (const part of text.split(',')) {
    const [k, ...rest] = part.split('=');
    if (k.trim()) headers[k.trim()] = rest.join('=').trim();
  }
  return Object.keys(headers).length ? headers : undefined;
}

$('publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const topic = $('pub-topic').value.trim();
  const value = $('pub-value').value;
  const button = $('pub-send');
  button.disabled = true;
  try {
    const m = await repl.publish(topic, value, parseHeaders($('pub-headers').value));
    note('pub-note', `published #${m.id} to ${topic}`, 'ok');
    $('pub-value').value = '';
  } catch (err) {
    note('pub-note', describe(err), 'bad');
  } finally {
    button.disabled = false;
  }
});

$('create-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('create-name').value.trim();
  try {
    await repl.createTopic(name);
    note('create-note', `created ${name}`, 'ok');
    $('create-name').value = '';
    await poll();
  } catch (err) {
    note('create-note', describe(err), 'bad');
  }
});

// ---------- start ----------

async function loop() {
  await poll();
  setTimeout(loop, POLL_MS);
}
$('rate-header').textContent = `Rate (last ${Math.round((HISTORY * POLL_MS) / 1000)} s)`;
loop();
if (params.get('tail')) tail(params.get('tail'));

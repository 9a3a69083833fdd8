// The xln node's live web view. The node that serves this page tells who is who
// (/api/network: entities, boards, which node hosts each validator, each node's RPC
// WebSocket); the page opens a JSON-RPC WebSocket to every node, asks each for a snapshot
// of its replicas (xln_view) and subscribes to its events (xln_subscribe). An event
// schedules a fresh snapshot of that node; `lock` and `payment` events also move the
// payments' hops at once. Amounts are exact decimal strings, compared as BigInt.
import cytoscape from 'cytoscape';

const auth = new URLSearchParams(location.hash.slice(1)).get('auth');
const REFRESH_MS = 120;
const RECONNECT_MS = 1000;
const PAYMENTS_SHOWN = 30;
const HISTORY_KEPT = 50;

const state = {
  network: null,
  nameOf: new Map(), // entity id -> name
  nodes: new Map(), // node name -> Link
  payments: new Map(), // hashlock -> payment
  history: new Map(), // account key -> [{at, height, delta}]
  selected: null, // {kind: 'entity'|'account', key}
};
let cy = null;

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.onclick = v;
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const short = (hex) => (hex && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex || '');
const name = (id) => state.nameOf.get(id) || short(id);
const pairKey = (a, b) => [a, b].sort().join('|');

// One JSON-RPC WebSocket to one node, reconnecting.
class Link {
  constructor(node, url) {
    this.node = node;
    this.url = url;
    this.connected = false;
    this.view = null;
    this.pending = new Map();
    this.nextId = 1;
    this.timer = null;
    this.connect();
  }

  connect() {
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      setTimeout(() => this.connect(), RECONNECT_MS);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.connected = true;
      this.call('xln_subscribe', {}).catch((e) => console.warn(this.node, 'subscribe', e));
      this.refresh();
    };
    ws.onmessage = (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result);
      } else if (msg.method === 'xln_event' && msg.params) {
        onEvent(this, msg.params.result);
      }
    };
    ws.onclose = () => {
      this.connected = false;
      for (const { reject } of this.pending.values()) reject(new Error('closed'));
      this.pending.clear();
      render();
      setTimeout(() => this.connect(), RECONNECT_MS);
    };
  }

  call(method, params) {
    const id = this.nextId++;
    const p = auth ? { ...params, auth } : params;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: p }));
    });
  }

  // A fresh snapshot soon (events come in bursts: one snapshot per burst).
  refresh() {
    if (this.timer) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      try {
        this.view = await this.call('xln_view', {});
        absorbView(this);
        render();
      } catch (e) {
        console.warn(this.node, 'view', e);
      }
    }, REFRESH_MS);
  }
}

function payment(hashlock) {
  if (!state.payments.has(hashlock)) {
    state.payments.set(hashlock, {
      hashlock, sender: null, receiver: null, total: null, token: null, routes: [],
      status: 'pending', hops: new Map(), steps: [], first: Date.now(),
    });
  }
  return state.payments.get(hashlock);
}

function step(p, text) {
  p.steps.push(`${new Date().toLocaleTimeString()} ${text}`);
}

function onEvent(link, e) {
  if (!e || typeof e !== 'object') return;
  if (e.event === 'lock') {
    const p = payment(e.hashlock);
    const [from, to] = e.direction === 'out' ? [e.entity, e.peer] : [e.peer, e.entity];
    const key = `${from}>${to}`;
    const was = p.hops.get(key);
    if (e.state === 'open') {
      if (!was) p.hops.set(key, 'locked');
      step(p, `${name(e.entity)}: lock ${name(from)} → ${name(to)} ${e.amount} open`);
    } else {
      p.hops.set(key, 'closed');
      step(p, `${name(e.entity)}: lock ${name(from)} → ${name(to)} closed`);
    }
  } else if (e.event === 'payment' && e.hashlock) {
    const p = payment(e.hashlock);
    if (e.state === 'sent') {
      p.sender = e.entity;
      p.receiver = e.receiver || p.receiver;
      p.total = e.total || p.total;
      p.token = e.token ?? p.token;
      if (e.routes) p.routes = e.routes;
    }
    if (e.state === 'settled') p.status = 'settled';
    if (e.state === 'failed') p.status = 'failed';
    step(p, `${name(e.entity)}: ${e.state}${e.reason ? ` (${e.reason})` : ''}`);
  }
  link.refresh();
  render();
}

// What a snapshot says about payments (covers what happened before the page opened).
function absorbView(link) {
  for (const r of link.view.replicas) {
    for (const s of r.sent) {
      const p = payment(s.hashlock);
      p.sender = r.entity;
      p.receiver = s.receiver;
      p.total = s.total;
      p.token = s.token;
      if (!p.routes.length) p.routes = s.parts.map((part) => part.route);
      if (s.status === 'settled') p.status = 'settled';
      else if (String(s.status).startsWith('failed')) p.status = 'failed';
    }
    for (const a of r.accounts) {
      const key = pairKey(r.entity, a.peer);
      const h = state.history.get(key) || [];
      const last = h[h.length - 1];
      const deltas = a.tokens.map((t) => `${t.token}:${t.delta}`).join(' ');
      if (!last || last.height !== a.height) {
        h.push({ at: new Date().toLocaleTimeString(), height: a.height, deltas, by: r.name });
        if (h.length > HISTORY_KEPT) h.shift();
      }
      state.history.set(key, h);
    }
  }
}

// Every replica of `entity` the page can see: [{node, replica}].
function replicasOf(entityId) {
  const out = [];
  for (const link of state.nodes.values()) {
    for (const r of link.view?.replicas || []) {
      if (r.entity === entityId) out.push({ node: link.node, replica: r });
    }
  }
  return out;
}

// Each account once: key -> {a, b, views: {entityId: accountView}}.
function accounts() {
  const out = new Map();
  for (const link of state.nodes.values()) {
    for (const r of link.view?.replicas || []) {
      for (const a of r.accounts) {
        const key = pairKey(r.entity, a.peer);
        if (!out.has(key)) out.set(key, { key, ends: key.split('|'), views: {} });
        out.get(key).views[r.entity] = a;
      }
    }
  }
  return out;
}

function agreement(entityId) {
  const ent = state.network.entities.find((e) => e.id === entityId);
  const seen = replicasOf(entityId);
  const hashes = new Set(seen.map((s) => `${s.replica.height}:${s.replica.state_hash}`));
  if (seen.length === 0) return { text: 'no replica reachable', cls: 'partial', code: 'unknown' };
  if (hashes.size > 1) return { text: `replicas differ (${hashes.size} states)`, cls: 'no', code: 'no' };
  if (seen.length < ent.validators.length) {
    return { text: `${seen.length} of ${ent.validators.length} replicas seen, agreeing`, cls: 'partial', code: 'partial' };
  }
  return { text: `all ${seen.length} replicas agree`, cls: 'yes', code: 'yes' };
}

function big(x) {
  try {
    return BigInt(x);
  } catch {
    return 0n;
  }
}

function bar(t, leftName, rightName) {
  const send = big(t.out_capacity);
  const recv = big(t.in_capacity);
  const heldOut = big(t.out_allowance);
  const heldIn = big(t.in_allowance);
  const total = send + recv + heldOut + heldIn;
  const pct = (x) => (total === 0n ? 0 : Number((x * 10000n) / total) / 100);
  return el('div', {},
    el('div', {
      class: 'bar', 'data-token': t.token, 'data-left': leftName, 'data-right': rightName,
      'data-out': t.out_capacity, 'data-in': t.in_capacity,
      'data-held-out': t.out_allowance, 'data-held-in': t.in_allowance,
      title: `collateral ${t.collateral}, ${leftName}'s credit limit ${t.own_credit_limit}, ${rightName}'s ${t.peer_credit_limit}`,
    },
    el('div', { class: 'seg-held', style: `width:${pct(heldOut)}%` }),
    el('div', { class: 'seg-send', style: `width:${pct(send)}%` }),
    el('div', { class: 'seg-recv', style: `width:${pct(recv)}%` }),
    el('div', { class: 'seg-held', style: `width:${pct(heldIn)}%` })),
    el('div', { class: 'legend' },
      `token ${t.token}: ${leftName} can send ${t.out_capacity}, receive ${t.in_capacity}`
      + ` · Δ ${t.delta} · collateral ${t.collateral} · credit ${t.own_credit_limit} / ${t.peer_credit_limit}`
      + (heldOut + heldIn > 0n ? ` · held ${t.out_allowance} / ${t.in_allowance}` : '')));
}

function select(kind, key) {
  state.selected = { kind, key };
  render();
}

function renderGraph() {
  const accs = accounts();
  const want = new Set();
  const add = [];
  for (const e of state.network.entities) {
    want.add(e.id);
    const ag = agreement(e.id);
    const reps = replicasOf(e.id);
    const height = reps.length ? Math.max(...reps.map((s) => s.replica.height)) : '?';
    const data = { id: e.id, label: `${e.name}\n#${height}`, name: e.name, agree: ag.code };
    const n = cy.getElementById(e.id);
    if (n.empty()) add.push({ group: 'nodes', data });
    else n.data(data);
  }
  for (const a of accs.values()) {
    const id = `acc:${a.key}`;
    want.add(id);
    const v = a.views[a.ends[0]] || a.views[a.ends[1]];
    let total = 0n;
    for (const t of v.tokens) total += big(t.total_capacity);
    const locks = Object.values(a.views).some((x) => x.locks.length > 0);
    const width = 2 + Math.min(10, Math.log10(Number(total) + 1) * 1.5);
    const data = { id, source: a.ends[0], target: a.ends[1], width, locks: locks ? 1 : 0, key: a.key };
    const edge = cy.getElementById(id);
    if (edge.empty()) add.push({ group: 'edges', data });
    else edge.data(data);
  }
  if (add.length) {
    cy.add(add.filter((x) => x.group === 'nodes'));
    cy.add(add.filter((x) => x.group === 'edges' && cy.getElementById(x.data.source).nonempty()
      && cy.getElementById(x.data.target).nonempty()));
    cy.layout({ name: 'circle', padding: 60, animate: false }).run();
  }
  cy.elements().forEach((x) => {
    if (!want.has(x.id())) x.remove();
  });
  // The hops of payments still locked glow.
  const active = new Set();
  for (const p of state.payments.values()) {
    for (const [hop, s] of p.hops) {
      if (s === 'locked') {
        const [f, t] = hop.split('>');
        active.add(`acc:${pairKey(f, t)}`);
      }
    }
  }
  cy.edges().forEach((x) => x.data('active', active.has(x.id()) ? 1 : 0));
}

function renderNodes() {
  const box = document.getElementById('nodes');
  box.replaceChildren(...[...state.nodes.values()].map((l) => el('span', { class: l.connected ? 'up' : 'down', 'data-node': l.node }, l.node)));
}

function renderEntities() {
  const box = document.getElementById('entities');
  box.replaceChildren(...state.network.entities.map((e) => {
    const ag = agreement(e.id);
    const reps = replicasOf(e.id);
    const byValidator = new Map(reps.map((s) => [s.replica.validator.toLowerCase(), s]));
    const sel = state.selected?.kind === 'entity' && state.selected.key === e.id;
    return el('div', { class: `card entity${sel ? ' selected' : ''}`, 'data-entity': e.name, 'data-agree': ag.code, onclick: () => select('entity', e.id) },
      el('b', {}, e.name), ` · threshold ${e.threshold} of ${e.validators.reduce((s, v) => s + v.shares, 0)} shares · `,
      el('span', { class: `agree-${ag.cls}` }, ag.text),
      ...e.validators.map((v) => {
        const s = byValidator.get(v.address.toLowerCase());
        const up = v.node && state.nodes.get(v.node)?.connected;
        return el('div', { class: 'validator mono' },
          el('span', { class: `dot${up ? ' up' : ''}` }),
          `${short(v.address)} ×${v.shares} on ${v.node || '?'}`,
          s ? ` · height ${s.replica.height} · ${short(s.replica.state_hash)}${s.replica.idle ? '' : ' · busy'}` : ' · not reachable');
      }));
  }));
}

function renderAccounts() {
  const box = document.getElementById('accounts');
  const cards = [];
  for (const a of [...accounts().values()].sort((x, y) => name(x.ends[0]).localeCompare(name(y.ends[0])))) {
    // The left side's view (its out is the left's send capacity); the right's if only it is seen.
    const [id, v] = Object.entries(a.views).find(([, x]) => x.side === 'left') || Object.entries(a.views)[0];
    const other = a.ends.find((x) => x !== id) || id;
    const label = `${name(id)}|${name(other)}`;
    const sides = Object.values(a.views);
    const agree = sides.length === 2 && sides[0].state_hash === sides[1].state_hash;
    const sel = state.selected?.kind === 'account' && state.selected.key === a.key;
    const lockCount = Math.max(...sides.map((x) => x.locks.length));
    cards.push(el('div', { class: `card account${sel ? ' selected' : ''}`, 'data-account': label, 'data-height': v.height, onclick: () => select('account', a.key) },
      el('b', {}, `${name(id)} ⇄ ${name(other)}`), ` · height ${v.height} · `,
      el('span', { class: agree ? 'agree-yes' : 'agree-partial' }, agree ? 'both sides agree' : (sides.length === 2 ? 'sides differ (a frame in flight)' : 'one side seen')),
      lockCount ? ` · ${lockCount} open locks` : '',
      ...v.tokens.map((t) => bar(t, name(id), name(other)))));
  }
  box.replaceChildren(...cards);
}

function renderPayments() {
  const box = document.getElementById('payments');
  const list = [...state.payments.values()].sort((a, b) => b.first - a.first).slice(0, PAYMENTS_SHOWN);
  if (!list.length) return;
  box.replaceChildren(...list.map((p) => {
    // Hops in route order: sender -> route[0] -> route[1] ...
    const hops = [];
    for (const route of p.routes.length ? p.routes : [[]]) {
      let from = p.sender;
      for (const to of route) {
        hops.push([from, to]);
        from = to;
      }
    }
    for (const key of p.hops.keys()) {
      const [f, t] = key.split('>');
      if (!hops.some(([a, b]) => a === f && b === t)) hops.push([f, t]);
    }
    const hopState = (f, t) => {
      const s = p.hops.get(`${f}>${t}`);
      if (s === 'locked') return 'locked';
      if (s === 'closed' || p.status !== 'pending') {
        if (p.status === 'settled') return 'settled';
        if (p.status === 'failed') return 'refunded';
        return 'closed';
      }
      return 'waiting';
    };
    return el('div', { class: 'card payment', 'data-hashlock': p.hashlock, 'data-status': p.status },
      el('b', {}, `${name(p.sender)} → ${name(p.receiver)}`), ` ${p.total ?? '?'} of token ${p.token ?? '?'} · `,
      el('span', { class: `status-${p.status}` }, p.status), el('span', { class: 'mono' }, ` ${short(p.hashlock)}`),
      el('div', { class: 'hops' }, ...hops.map(([f, t]) => el('span', { class: 'hop', 'data-hop': `${name(f)}>${name(t)}`, 'data-state': hopState(f, t) }, `${name(f)} → ${name(t)}: ${hopState(f, t)}`))),
      el('div', { class: 'steps' }, p.steps.slice(-8).join(' · ')));
  }));
}

function renderDetail() {
  const box = document.getElementById('detail');
  const sel = state.selected;
  if (!sel) return;
  if (sel.kind === 'entity') {
    const reps = replicasOf(sel.key);
    const r = reps[0]?.replica;
    if (!r) {
      box.replaceChildren(el('div', { class: 'legend' }, `${name(sel.key)}: no replica reachable`));
      return;
    }
    box.replaceChildren(el('div', { 'data-detail': name(sel.key) },
      el('b', {}, name(sel.key)), el('span', { class: 'mono' }, ` ${sel.key}`),
      el('pre', {}, [
        `height ${r.height} · view ${r.view} · state ${r.state_hash}`,
        `replicas: ${reps.map((s) => `${s.node}: #${s.replica.height} ${short(s.replica.state_hash)}`).join(', ')}`,
        `reserves: ${r.reserves.map((x) => `${x.holder} ${x.amount} of ${x.token}`).join(', ') || 'none'}`,
        `fees earned: ${r.fees_earned.map((x) => `${x.amount} of ${x.token}`).join(', ') || 'none'}`,
        `accounts: ${r.accounts.map((a) => `${a.peer_name} (#${a.height}${a.locks.length ? `, ${a.locks.length} locks` : ''})`).join(', ')}`,
        `payments sent: ${r.sent.map((s) => `${name(s.receiver)} ${s.total} ${s.status}`).join('; ') || 'none'}; forwarding ${r.forwarding}`,
        'recent log:', ...r.log.map((l) => `  ${l}`),
      ].join('\n'))));
  } else {
    const a = accounts().get(sel.key);
    if (!a) return;
    const lines = [];
    for (const [id, v] of Object.entries(a.views)) {
      lines.push(`${name(id)}'s side (${v.side}): height ${v.height}, frame ${short(v.frame_hash)}, state ${short(v.state_hash)}${v.in_flight ? ', a frame in flight' : ''}, ${v.queued} queued`);
      for (const t of v.tokens) {
        lines.push(`  token ${t.token}: Δ ${t.delta}; send ${t.out_capacity} (collateral ${t.out_collateral}, own credit ${t.out_own_credit}, peer credit ${t.out_peer_credit}, held ${t.out_allowance}); receive ${t.in_capacity}`);
      }
      for (const l of v.locks) lines.push(`  lock #${l.id} ${l.mine ? 'mine' : "peer's"}: ${l.holds.map((h) => `${h.amount} of ${h.token}`).join(', ')}`);
    }
    lines.push('history (seen by this page):');
    for (const h of (state.history.get(sel.key) || []).slice().reverse()) lines.push(`  ${h.at} #${h.height} Δ ${h.deltas}`);
    box.replaceChildren(el('div', { 'data-detail': a.ends.map(name).join('|') },
      el('b', {}, `${name(a.ends[0])} ⇄ ${name(a.ends[1])}`), el('pre', {}, lines.join('\n'))));
  }
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNodes();
    renderGraph();
    renderEntities();
    renderAccounts();
    renderPayments();
    renderDetail();
  });
}

async function start() {
  const res = await fetch('/api/network');
  state.network = await res.json();
  for (const e of state.network.entities) state.nameOf.set(e.id, e.name);
  document.getElementById('served').textContent = `served by ${state.network.node}`;
  cy = cytoscape({
    container: document.getElementById('graph'),
    style: [
      { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', color: '#d8dee6', 'text-valign': 'center', 'font-size': 12, width: 64, height: 64, 'background-color': '#2f5f8f', 'border-width': 3, 'border-color': '#3fb37f' } },
      { selector: 'node[agree = "no"]', style: { 'border-color': '#d4553a' } },
      { selector: 'node[agree = "partial"], node[agree = "unknown"]', style: { 'border-color': '#d4a13a' } },
      { selector: 'edge', style: { width: 'data(width)', 'line-color': '#55677a', 'curve-style': 'bezier' } },
      { selector: 'edge[locks = 1], edge[active = 1]', style: { 'line-color': '#d4a13a' } },
      { selector: ':selected', style: { 'overlay-opacity': 0.15 } },
    ],
    layout: { name: 'circle' },
    wheelSensitivity: 0.3,
  });
  cy.on('tap', 'node', (ev) => select('entity', ev.target.id()));
  cy.on('tap', 'edge', (ev) => select('account', ev.target.data('key')));
  const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  for (const n of state.network.nodes) {
    const url = n.rpc || wsBase;
    state.nodes.set(n.name, new Link(n.name, url));
  }
  render();
}

// For tests and the console: what is drawn.
window.xlnDrawn = () => ({
  nodes: cy ? cy.nodes().map((n) => n.data('name')) : [],
  edges: cy ? cy.edges().map((e) => [name(e.data('source')), name(e.data('target'))].sort().join('|')) : [],
  connected: [...state.nodes.values()].filter((l) => l.connected && l.view).map((l) => l.node),
});

start().catch((e) => {
  document.body.prepend(el('div', { style: 'color:#d4553a;padding:8px' }, `cannot start: ${e}`));
});

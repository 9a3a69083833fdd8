// The browser test of the node's live web view (issue 15), run by .ci/stage-browser:
// `xln net up` of five node processes on 127.0.0.1 (alice, a hub, bob, and carol, a 2-of-2
// entity on two nodes), Debian's chromium driven headless by playwright-core. It opens the
// hub's page and checks that every entity and every account is drawn and every replica is
// reached; makes a payment routed alice -> hub -> bob over JSON-RPC; and checks, without a
// reload, that the payment's hops show settled and the affected capacity bars show exactly
// what the nodes now report (alice paid 40 + the hub's fee, bob received 40). It saves a
// screenshot to target/browser/web-view.png. Every wait is bounded (a hang guard, not a
// timing assertion); the network is stopped however the test ends.
//
//   XLN_BIN=target/release/xln node tests/browser/web_view.mjs
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const XLN = path.resolve(ROOT, process.env.XLN_BIN || 'target/release/xln');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PATIENCE_MS = 120_000;
const SHOT = path.join(ROOT, 'target', 'browser', 'web-view.png');

const base = 36_000 + (process.pid % 100) * 20;
const network = `(network #:name "browser" #:base-port ${base})
(entity #:name "alice" #:validators 1)
(entity #:name "hub" #:validators 1)
(entity #:name "bob" #:validators 1)
(entity #:name "carol" #:validators 2 #:threshold 2)
(node #:name "alice" #:hosts (("alice" 0)))
(node #:name "hub" #:hosts (("hub" 0)))
(node #:name "bob" #:hosts (("bob" 0)))
(node #:name "carol-0" #:hosts (("carol" 0)))
(node #:name "carol-1" #:hosts (("carol" 1)))
(account #:between ("alice" "hub") #:credit ((1 100000)))
(account #:between ("hub" "bob") #:credit ((1 100000)))
(account #:between ("carol" "hub") #:credit ((1 50000)))
`;
const ENTITIES = ['alice', 'hub', 'bob', 'carol'];
const ACCOUNTS = [['alice', 'hub'], ['hub', 'bob'], ['carol', 'hub']];
const NODES = ['alice', 'hub', 'bob', 'carol-0', 'carol-1'];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xln-browser-'));
const netDir = path.join(dir, 'net');
fs.writeFileSync(path.join(dir, 'network.xln'), network);

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function rpc(url, method, params) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

// Polls `f` until it returns a truthy value; throws after PATIENCE_MS.
async function until(what, f) {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// An entity's own view of its account with `peer`, token 1 (from its node's xln_view).
async function sideOf(url, entity, peer) {
  const v = await rpc(url, 'xln_view', {});
  const r = v.replicas.find((x) => x.name === entity);
  const a = r.accounts.find((x) => x.peer_name === peer);
  return { token: a.tokens.find((t) => t.token === 1), fees: r.fees_earned };
}

// What the page draws for the account a–b, token 1: {left, out, in}.
async function drawnBar(page, a, b) {
  return page.evaluate(([x, y]) => {
    const bar = [...document.querySelectorAll('.account .bar[data-token="1"]')]
      .find((e) => (e.dataset.left === x && e.dataset.right === y) || (e.dataset.left === y && e.dataset.right === x));
    return bar ? { left: bar.dataset.left, out: bar.dataset.out, in: bar.dataset.in } : null;
  }, [a, b]);
}

// `entity`'s send capacity as the bar shows it (the bar is drawn from the left side).
const sendOf = (bar, entity) => BigInt(bar.left === entity ? bar.out : bar.in);

let browser;
let page;
let failed = false;
try {
  const up = execFileSync(XLN, ['net', 'up', path.join(dir, 'network.xln'), '--dir', netDir], {
    encoding: 'utf8', timeout: 180_000,
  });
  console.log(up);
  const urls = {};
  for (const m of up.matchAll(/^\s+(\S+)\s+pid \S+\s+peers \S+\s+rpc (\S+)/gm)) urls[m[1]] = m[2];
  check(NODES.every((n) => urls[n]), `every node's RPC address is known: ${JSON.stringify(urls)}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`page error: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) console.log(`page got ${r.status()} for ${r.url()}`); });
  page.on('pageerror', (e) => console.log(`page exception: ${e}`));
  await page.goto(`${urls.hub}/`);

  const drawn = await until('every entity, account and node drawn', async () => {
    const d = await page.evaluate(() => (window.xlnDrawn ? window.xlnDrawn() : null));
    const done = d && ENTITIES.every((e) => d.nodes.includes(e))
      && ACCOUNTS.every(([a, b]) => d.edges.includes([a, b].sort().join('|')))
      && NODES.every((n) => d.connected.includes(n));
    return done ? d : null;
  });
  check(drawn.nodes.length === ENTITIES.length, `the graph has the ${ENTITIES.length} entities: ${drawn.nodes}`);
  check(drawn.edges.length === ACCOUNTS.length, `the graph has the ${ACCOUNTS.length} accounts: ${drawn.edges}`);
  for (const e of ENTITIES) {
    check(await page.locator(`.entity[data-entity="${e}"]`).count() === 1, `entity ${e} has its card`);
  }
  for (const [a, b] of ACCOUNTS) {
    check(await drawnBar(page, a, b) !== null, `account ${a}–${b} has its capacity bar`);
  }
  await until('carol\'s two replicas agree', () => page.locator('.entity[data-entity="carol"][data-agree="yes"]').count());
  check(true, 'carol (2 of 2, on two nodes): every replica reached and agreeing');

  const before = { ah: await drawnBar(page, 'alice', 'hub'), hb: await drawnBar(page, 'hub', 'bob') };
  await page.evaluate(() => { window.notReloaded = 42; });

  // A payment routed alice -> hub -> bob, once alice's node knows a route.
  const tx = await until('a route from alice to bob', async () => {
    try {
      return (await rpc(urls.alice, 'xln_payRouted', { from: 'alice', to: 'bob', token: 1, amount: '40' })).tx_hash;
    } catch (e) {
      return null;
    }
  });
  console.log(`routed payment ${tx}`);
  await until('the page shows the payment settled on both hops', () => page.evaluate(() => {
    const p = document.querySelector('.payment[data-status="settled"]');
    return p && p.querySelector('[data-hop="alice>hub"][data-state="settled"]')
      && p.querySelector('[data-hop="hub>bob"][data-state="settled"]');
  }));
  check(true, 'the payment\'s hops alice → hub → bob show settled');

  // The nodes' own figures after the payment, and the bars showing exactly them.
  const alice = await until('alice has no lock left', async () => {
    const s = await sideOf(urls.alice, 'alice', 'hub');
    return s.token.out_allowance === '0' ? s : null;
  });
  const bob = await sideOf(urls.bob, 'bob', 'hub');
  const hub = await sideOf(urls.hub, 'hub', 'alice');
  const fee = BigInt(hub.fees.find((f) => f.token === 1)?.amount ?? '0');
  await until('the bars show what the nodes report', async () => {
    const ah = await drawnBar(page, 'alice', 'hub');
    const hb = await drawnBar(page, 'hub', 'bob');
    return sendOf(ah, 'alice') === BigInt(alice.token.out_capacity)
      && sendOf(hb, 'bob') === BigInt(bob.token.out_capacity);
  });
  const after = { ah: await drawnBar(page, 'alice', 'hub'), hb: await drawnBar(page, 'hub', 'bob') };
  check(sendOf(before.ah, 'alice') - sendOf(after.ah, 'alice') === 40n + fee,
    `alice–hub bar: alice can send 40 + fee ${fee} less (${sendOf(before.ah, 'alice')} -> ${sendOf(after.ah, 'alice')})`);
  check(sendOf(after.hb, 'bob') - sendOf(before.hb, 'bob') === 40n,
    `hub–bob bar: bob can send 40 more (${sendOf(before.hb, 'bob')} -> ${sendOf(after.hb, 'bob')})`);
  check(await page.evaluate(() => window.notReloaded) === 42, 'all of it without a reload');

  // A click opens an account's detail.
  await page.locator('.account', { hasText: 'alice' }).first().click();
  await until('the account detail', () => page.locator('#detail [data-detail]').count());
  const detail = await page.locator('#detail').innerText();
  check(detail.includes('history') && detail.includes('token 1'), 'a click opens the account\'s detail');

  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await page.screenshot({ path: SHOT });
  console.log(`screenshot: ${SHOT}`);
} catch (e) {
  failed = true;
  console.error(e);
  if (page) {
    const shown = await page.evaluate(() => document.querySelector('aside')?.innerText).catch(() => '');
    console.error(`--- the page's side panel:\n${shown}`);
  }
  for (const n of NODES) {
    const log = path.join(netDir, n, 'node.log');
    if (fs.existsSync(log)) console.error(`--- ${n} log (tail):\n${fs.readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`);
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  try {
    console.log(execFileSync(XLN, ['net', 'down', netDir], { encoding: 'utf8', timeout: 30_000 }));
  } catch (e) {
    console.error(`net down: ${e}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

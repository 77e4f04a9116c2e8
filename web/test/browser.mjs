// Drives the reference page in real headless Chromium (Debian's
// /usr/bin/chromium through playwright-core; no browser is downloaded), as
// two users in two browser contexts. Run by api/page_browser_test.go, which
// starts the node that serves the page and passes
//   PARLEY_PAGE_TEST = {base, control, artifacts, scenario: "realtime"|"polling", chromium}
// control is a test-only HTTP endpoint: GET <control>/kick?user=U closes
// that user's sockets on the server side.
// Prints "STEP <name> <ms>" per finished step, and exits non-zero with the
// failing step and reason. Every wait has a deadline; nothing sleeps.
import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const cfg = JSON.parse(process.env.PARLEY_PAGE_TEST);
const WAIT = 10000;
const errors = [];
let browser;
let current = 'launch';

function fail(msg) {
  throw new Error(msg);
}

async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  await fn();
  if (errors.length) fail('uncaught page errors: ' + errors.join(' | '));
  console.log(`STEP ${name} ${Date.now() - t0}`);
}

/** until waits for fn(arg) to hold in the page; what names it on timeout. */
async function until(page, what, fn, arg, timeout = WAIT) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 'raf' });
  } catch (e) {
    fail(`${page.parleyUser}: timed out after ${timeout} ms waiting for ${what}` + (e.message.includes('Timeout') ? '' : ': ' + e.message));
  }
}

const shot = (page, name) => page.screenshot({ path: join(cfg.artifacts, name) });

/** bodies lists the open conversation's message bodies, in order. */
const bodies = (page) => page.$$eval('#messages .msg .body', (els) => els.map((e) => e.textContent));

async function open(user) {
  const ctx = await browser.newContext({ viewport: { width: 1180, height: 740 }, colorScheme: 'light' });
  const page = await ctx.newPage();
  page.parleyUser = user;
  page.on('pageerror', (e) => errors.push(`${user}: ${e.message}`));
  await page.goto(cfg.base + '/');
  return page;
}

async function signIn(page, user, shotName) {
  await until(page, 'the dev sign-in form', () => {
    const f = document.getElementById('dev-form');
    return f && !f.hidden && !document.getElementById('signin').hidden;
  });
  if (shotName) await shot(page, shotName);
  await page.fill('#dev-user', user);
  await page.click('#dev-form button[type=submit]');
  await until(page, 'the app', () => !document.getElementById('app').hidden);
}

const connState = (page) => page.$eval('#conn', (e) => e.dataset.state);

async function waitConn(page, state) {
  await until(page, `connection state ${state}`, (s) => document.getElementById('conn').dataset.state === s, state, 15000);
}

/** send types a message into the composer and presses Enter. */
async function send(page, text) {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

/** confirmed waits until the page shows text as a server-confirmed message. */
async function confirmed(page, text) {
  await until(page, `"${text}" confirmed`, (t) => [...document.querySelectorAll('#messages .msg')]
    .some((m) => m.querySelector('.body')?.textContent === t && m.dataset.status === 'sent' && m.dataset.id), text);
}

/** waitLive waits until the open room's socket events are gap-free again. */
async function waitLive(page) {
  await until(page, 'the room to be live (caught up after subscribing)', () => document.getElementById('messages').dataset.live === 'true');
}

/** waitPast waits until the delta cursor has passed the message with text. */
async function waitPast(page, text) {
  const seq = await page.$$eval('#messages .msg', (ms, t) => Number(ms.find((m) => m.querySelector('.body')?.textContent === t)?.dataset.seq), text);
  if (!(seq > 0)) fail(`no confirmed "${text}" to wait past`);
  await until(page, `the delta cursor past "${text}" (seq ${seq})`, (s) => Number(document.getElementById('messages').dataset.cursor) >= s, seq);
}

async function countOf(page, text) {
  return (await bodies(page)).filter((b) => b === text).length;
}

async function openConv(page, id) {
  await page.click(`#inbox li[data-conversation-id="${id}"] > button`);
  await until(page, 'the conversation to open', (cid) => {
    const li = document.querySelector(`#inbox li[data-conversation-id="${cid}"]`);
    return li && li.classList.contains('active') && !document.getElementById('conversation').hidden;
  }, id);
}

const badge = (page, id) => page.$eval(`#inbox li[data-conversation-id="${id}"] .badge`, (e) => Number(e.dataset.count));

async function waitBadge(page, id, n) {
  await until(page, `badge of ${id} = ${n}`, ([cid, want]) => {
    const b = document.querySelector(`#inbox li[data-conversation-id="${cid}"] .badge`);
    return b && Number(b.dataset.count) === want && (want === 0 ? b.hidden : !b.hidden && b.textContent === String(want));
  }, [id, n]);
}

async function waitTotal(page, n) {
  await until(page, `unread total = ${n}`, (want) => {
    const b = document.getElementById('unread-total');
    return Number(b.dataset.count) === want && b.hidden === (want === 0);
  }, n);
}

async function createConversation(page, withUsers, title) {
  const before = await page.$$eval('#inbox li', (ls) => ls.map((l) => l.dataset.conversationId));
  await page.fill('#new-with', withUsers);
  await page.fill('#new-title', title || '');
  await page.click('#new-conv button[type=submit]');
  await until(page, 'the new conversation to open', (known) => {
    const li = document.querySelector('#inbox li.active');
    return li && !known.includes(li.dataset.conversationId) && !document.getElementById('conversation').hidden;
  }, before);
  return page.$eval('#inbox li.active', (l) => l.dataset.conversationId);
}

async function kick(user) {
  const res = await fetch(`${cfg.control}/kick?user=${user}`);
  const n = Number(await res.text());
  if (!(n >= 1)) fail(`kick ${user}: closed ${n} sockets, want at least 1`);
}

async function realtime() {
  const alice = await open('alice');
  const bob = await open('bob');
  let direct;
  let team;

  await step('sign_in', async () => {
    await signIn(alice, 'alice', 'page-signin.png');
    await signIn(bob, 'bob');
    await waitConn(alice, 'connected');
    await waitConn(bob, 'connected');
  });

  await step('create_and_online', async () => {
    team = await createConversation(alice, 'bob', 'Team');
    direct = await createConversation(alice, 'bob');
    await until(alice, 'the direct title', () => document.getElementById('room-title').textContent === 'bob');
    for (const [page, id] of [[bob, team], [bob, direct], [alice, direct]]) {
      await until(page, `conversation ${id} online dot`, (cid) => document.querySelector(`#inbox li[data-conversation-id="${cid}"]`)?.dataset.online === 'true', id);
    }
  });

  await step('unread_counts_up', async () => {
    await waitTotal(bob, 0);
    await send(alice, 'Hello Bob');
    await confirmed(alice, 'Hello Bob');
    await waitBadge(bob, direct, 1);
    await waitTotal(bob, 1);
    await openConv(alice, team);
    await send(alice, 'Team news');
    await confirmed(alice, 'Team news');
    await waitBadge(bob, team, 1);
    await waitTotal(bob, 2);
    const order = await bob.$$eval('#inbox li', (ls) => ls.map((l) => l.dataset.conversationId));
    if (order[0] !== team || order[1] !== direct) fail(`bob's inbox order ${order}, want team first, then direct`);
    await shot(bob, 'page-inbox-unread.png');
  });

  await step('read_counts_down_and_receipt', async () => {
    await openConv(alice, direct);
    await openConv(bob, direct);
    await confirmed(bob, 'Hello Bob');
    await waitBadge(bob, direct, 0);
    await waitTotal(bob, 1);
    if ((await badge(bob, team)) !== 1) fail('team badge changed when bob read the direct conversation');
    await until(alice, '"Seen by bob" under Hello Bob', () => [...document.querySelectorAll('#messages .msg.mine')]
      .some((m) => m.querySelector('.body').textContent === 'Hello Bob' && m.querySelector('.seen')?.textContent === 'Seen by bob'));
    await until(alice, 'bob viewing', () => !!document.querySelector('#viewers [data-user="bob"]'));
    await until(bob, 'alice viewing', () => !!document.querySelector('#viewers [data-user="alice"]'));
  });

  await step('send_and_receive_live', async () => {
    await send(bob, 'Hi Alice!');
    await until(bob, 'the optimistic message at once', () => [...document.querySelectorAll('#messages .msg .body')].some((b) => b.textContent === 'Hi Alice!'));
    await confirmed(bob, 'Hi Alice!');
    await confirmed(alice, 'Hi Alice!');
    const src = await alice.$eval('#messages .msg:last-child', (m) => m.dataset.source);
    if (src !== 'socket') fail(`alice got Hi Alice! from ${src}, want socket`);
    for (const p of [alice, bob]) if ((await countOf(p, 'Hi Alice!')) !== 1) fail(`${p.parleyUser} shows Hi Alice! ${await countOf(p, 'Hi Alice!')} times`);
    await waitTotal(alice, 0);
  });

  await step('typing_shows_and_clears', async () => {
    await alice.fill('#composer-input', 'I am typ');
    await until(bob, 'alice is typing', () => document.getElementById('typing').textContent === 'alice is typing…');
    await shot(bob, 'page-typing.png');
    await alice.fill('#composer-input', '');
    // typing: false clears it at once; expiry alone (6 s) would be too late.
    await until(bob, 'the typing indicator to clear', () => document.getElementById('typing').textContent === '', undefined, 3000);
  });

  await step('edit_and_delete', async () => {
    const mine = alice.locator('#messages .msg.mine', { hasText: 'Hello Bob' });
    await mine.hover();
    await mine.locator('button.edit').click();
    await alice.fill('#messages .edit-input', 'Hello Bob (edited)');
    await alice.press('#messages .edit-input', 'Enter');
    await until(bob, 'the edit', () => [...document.querySelectorAll('#messages .msg')]
      .some((m) => m.querySelector('.body')?.textContent === 'Hello Bob (edited)' && m.querySelector('.edited')));
    await send(alice, 'oops');
    await confirmed(bob, 'oops');
    const oops = alice.locator('#messages .msg.mine', { hasText: 'oops' });
    await oops.hover();
    await oops.locator('button.delete').click();
    await oops.locator('button.delete').click();
    await until(bob, 'the deletion', () => {
      const ms = [...document.querySelectorAll('#messages .msg')];
      return ms.some((m) => m.classList.contains('deleted') && m.querySelector('.body').textContent === 'message deleted')
        && !ms.some((m) => m.querySelector('.body')?.textContent === 'oops');
    });
  });

  await step('reconnect_catches_up_exactly_once', async () => {
    const before = await bodies(bob);
    await bob.context().setOffline(true);
    await kick('bob');
    await until(bob, 'the socket to drop', () => document.getElementById('conn').dataset.state !== 'connected');
    const sent = ['while away 1', 'while away 2', 'while away 3'];
    for (const t of sent) {
      await send(alice, t);
      await confirmed(alice, t);
    }
    const during = await bodies(bob);
    if (sent.some((t) => during.includes(t))) fail('bob got messages while his socket was cut: ' + during);
    if ((await connState(bob)) === 'connected') fail('bob reconnected while offline');
    await shot(bob, 'page-offline.png');
    await bob.context().setOffline(false);
    await waitConn(bob, 'connected');
    await waitLive(bob);
    for (const t of sent) await confirmed(bob, t);
    const after = await bodies(bob);
    const want = [...before, ...sent];
    if (JSON.stringify(after) !== JSON.stringify(want)) fail(`bob's messages after reconnect:\n  ${JSON.stringify(after)}\nwant\n  ${JSON.stringify(want)}`);
    const sources = await bob.$$eval('#messages .msg', (ms) => ms.slice(-3).map((m) => m.dataset.source));
    if (sources.some((s) => s !== 'delta')) fail(`the missed messages came from ${sources}, want delta`);
    await until(alice, '"Seen by bob" under the last message', () => {
      const ms = [...document.querySelectorAll('#messages .msg.mine')];
      const last = ms[ms.length - 1];
      return last && last.querySelector('.body').textContent === 'while away 3' && last.querySelector('.seen')?.textContent === 'Seen by bob';
    });
    await shot(bob, 'page-reconnected.png');
    await shot(alice, 'page-conversation.png');
  });

  await step('lost_answer_retries_with_same_client_temp_id', async () => {
    // Cut bob's socket and keep it down, so only the HTTP answer can
    // confirm the send; the first answer is lost after the server took it.
    let allowSocket = false;
    await bob.routeWebSocket(/\/app\//, (ws) => (allowSocket ? ws.connectToServer() : ws.close()));
    await kick('bob');
    await until(bob, 'the socket to drop', () => document.getElementById('conn').dataset.state !== 'connected');
    const attempts = [];
    await bob.route(`**/api/messages/${direct}`, async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      const res = await route.fetch();
      attempts.push({ temp: route.request().postDataJSON().client_temp_id, status: res.status() });
      if (attempts.length === 1) return route.abort('connectionreset');
      return route.fulfill({ response: res });
    });
    await send(bob, 'after a lost answer');
    await until(bob, 'the send to retry', () => !!document.querySelector('#messages .msg[data-status="retrying"]'));
    await confirmed(bob, 'after a lost answer');
    if (attempts.length !== 2 || attempts[0].temp !== attempts[1].temp || attempts[0].status !== 201 || attempts[1].status !== 200) {
      fail('send attempts ' + JSON.stringify(attempts) + ', want 201 then 200 with one client_temp_id');
    }
    const src = await bob.$eval('#messages .msg:last-child', (m) => m.dataset.source);
    if (src !== 'http') fail(`bob's send was confirmed by ${src}, want http`);
    await confirmed(alice, 'after a lost answer');
    for (const p of [alice, bob]) if ((await countOf(p, 'after a lost answer')) !== 1) fail(`${p.parleyUser} shows the retried message more than once`);
    await bob.unroute(`**/api/messages/${direct}`);
    allowSocket = true;
    await bob.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitConn(bob, 'connected');
    // The catch-up delta delivers bob's own message again: merged by id.
    await waitPast(bob, 'after a lost answer');
    if ((await countOf(bob, 'after a lost answer')) !== 1) fail('bob shows his message twice after the catch-up delta');
  });

  await rich(alice, bob, team, direct);
}

/** PNG1x1 is a valid one-pixel PNG, to attach. */
const PNG1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

/** msgWith finds the open conversation's message whose body is text. */
const msgWith = (page, text) => page.locator('#messages .msg', { has: page.locator('.body', { hasText: text }) });

/**
 * rich: reply, react, mention with autocomplete, attach an image and see
 * it, pin, mute and archive, and search, as two users.
 */
async function rich(alice, bob, team, direct) {
  await step('reply_and_react', async () => {
    await openConv(alice, team);
    await openConv(bob, team);
    await confirmed(bob, 'Team news');
    const news = msgWith(bob, 'Team news');
    await news.hover();
    await news.locator('button.reply').click();
    await until(bob, 'the replying bar', () => !document.getElementById('replying').hidden);
    await send(bob, 'Agreed');
    await confirmed(alice, 'Agreed');
    await until(alice, 'the quote of Team news on the reply', () => [...document.querySelectorAll('#messages .msg')]
      .some((m) => m.querySelector('.body')?.textContent === 'Agreed' && m.querySelector('.quote')?.textContent.includes('Team news')));
    await until(alice, '"1 reply" on Team news', () => [...document.querySelectorAll('#messages .msg')]
      .some((m) => m.querySelector('.body')?.textContent === 'Team news' && m.querySelector('.replies-count')?.textContent === '1 reply'));
    const agreed = msgWith(alice, 'Agreed');
    await agreed.hover();
    await agreed.locator('.palette button[data-emoji="👍"]').click();
    await until(bob, 'alice\'s 👍 on Agreed', () => [...document.querySelectorAll('#messages .msg')]
      .some((m) => m.querySelector('.body')?.textContent === 'Agreed' && m.querySelector('.reactions button[data-emoji="👍"]')?.dataset.count === '1'));
    await until(alice, 'her own 👍 marked hers', () => !!document.querySelector('#messages .msg .reactions button.mine[data-emoji="👍"]'));
    await shot(bob, 'page-reply-react.png');
  });

  await step('mention_autocomplete', async () => {
    await bob.fill('#composer-input', 'ping @al');
    await until(bob, 'the @alice suggestion', () => !!document.querySelector('#mention-suggest:not([hidden]) button[data-user="alice"]'));
    await bob.click('#mention-suggest button[data-user="alice"]');
    const v = await bob.$eval('#composer-input', (e) => e.value);
    if (v !== 'ping @alice ') fail(`the completed composer holds ${JSON.stringify(v)}`);
    await bob.press('#composer-input', 'End');
    await bob.keyboard.type('look');
    await bob.press('#composer-input', 'Enter');
    await until(alice, 'the mention of her, highlighted', () => [...document.querySelectorAll('#messages .msg .body')]
      .some((b) => b.textContent === 'ping @alice look' && b.querySelector('.mention.me')?.textContent === '@alice'));
  });

  await step('attach_an_image', async () => {
    await alice.setInputFiles('#attach-input', { name: 'dot.png', mimeType: 'image/png', buffer: PNG1x1 });
    await until(alice, 'the attached file', () => !!document.querySelector('#attached:not([hidden]) [data-attachment-id]'));
    await send(alice, 'a picture');
    await until(bob, 'the picture, loaded', () => [...document.querySelectorAll('#messages .msg')]
      .some((m) => m.querySelector('.body')?.textContent === 'a picture' && m.querySelector('img[data-attachment-id]')?.naturalWidth === 1));
    await shot(bob, 'page-attachment.png');
  });

  await step('pin_mute_archive', async () => {
    await bob.click('#pin');
    await until(bob, 'team pinned first', (id) => {
      const first = document.querySelector('#inbox li');
      return first && first.dataset.conversationId === id && first.dataset.pinned === 'true';
    }, team);
    await bob.click('#mute');
    await until(bob, 'team muted', (id) => document.querySelector(`#inbox li[data-conversation-id="${id}"]`)?.dataset.muted === 'true', team);
    await openConv(bob, direct);
    await bob.click('#archive');
    await until(bob, 'direct archived out of the list', (id) => !document.querySelector(`#inbox li[data-conversation-id="${id}"]`), direct);
    await openConv(alice, direct);
    await send(alice, 'come back');
    await confirmed(alice, 'come back');
    await until(bob, 'direct back after a new message', (id) => !!document.querySelector(`#inbox li[data-conversation-id="${id}"]`), direct);
    const order = await bob.$$eval('#inbox li', (ls) => ls.map((l) => l.dataset.conversationId));
    if (order[0] !== team) fail(`bob's inbox ${order}: the pinned team should lead`);
  });

  await step('search', async () => {
    await bob.fill('#search-input', 'news');
    await bob.press('#search-input', 'Enter');
    await until(bob, 'a hit with news marked', () => [...document.querySelectorAll('#search-results li mark')].some((m) => m.textContent === 'news'));
    await shot(bob, 'page-search.png');
    await bob.click('#search-results li button');
    await until(bob, 'the team conversation open', () => document.getElementById('room-title').textContent === 'Team');
  });
}

async function polling() {
  const alice = await open('alice');
  const bob = await open('bob');
  let direct;
  await step('sign_in_polling', async () => {
    await signIn(alice, 'alice');
    await signIn(bob, 'bob');
    await waitConn(alice, 'polling');
    await waitConn(bob, 'polling');
  });
  await step('poll_inbox_and_delta', async () => {
    direct = await createConversation(alice, 'bob');
    await send(alice, 'polled hello');
    await confirmed(alice, 'polled hello');
    await waitBadge(bob, direct, 1);
    await waitTotal(bob, 1);
    await openConv(bob, direct);
    await confirmed(bob, 'polled hello');
    await waitTotal(bob, 0);
    await send(alice, 'polled again');
    await confirmed(bob, 'polled again');
    const src = await bob.$eval('#messages .msg:last-child', (m) => m.dataset.source);
    if (src !== 'delta') fail(`bob got "polled again" from ${src}, want delta`);
    await send(bob, 'polled answer');
    await confirmed(alice, 'polled answer');
    await waitPast(bob, 'polled answer'); // a poll returned bob's own message: merged, not doubled
    for (const p of [alice, bob]) {
      const got = await bodies(p);
      if (JSON.stringify(got) !== JSON.stringify(['polled hello', 'polled again', 'polled answer'])) fail(`${p.parleyUser} shows ${JSON.stringify(got)}`);
    }
    await until(bob, '"Seen by alice"', () => document.querySelector('#messages .msg.mine .seen')?.textContent === 'Seen by alice');
    await shot(bob, 'page-polling.png');
  });
}

try {
  await mkdir(cfg.artifacts, { recursive: true });
  browser = await chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  if (cfg.scenario === 'polling') await polling();
  else await realtime();
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`FAIL ${current}: ${e.message}`);
  if (browser) {
    for (const [i, ctx] of browser.contexts().entries()) {
      for (const p of ctx.pages()) await p.screenshot({ path: join(cfg.artifacts, `page-failure-${cfg.scenario}-${i}.png`) }).catch(() => {});
    }
    await browser.close().catch(() => {});
  }
  process.exit(1);
}

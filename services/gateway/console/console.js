// The Squall console: one page on the WebSocket API (squall.v1) and a few REST reads.
// No framework, no build step. Everything the platform sends is shown with textContent.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = 'squall.key';
  const MAX_ROWS = 500;

  let ws = null;
  let key = sessionStorage.getItem(KEY_STORE) || '';
  let nextId = 1;
  const pending = new Map();
  const subs = { activations: null, entities: null, follow: null };
  const rows = new Map(); // activationId -> tr
  let selected = null;
  let retry = 0;
  let namespaces = [];
  const entities = new Map(); // "kind name" -> li

  // ---------------------------------------------------------------- the socket

  function setConn(state, text) {
    $('conn').className = 'conn ' + state;
    $('conn-text').textContent = text;
  }

  function request(op, fields = {}) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify(Object.assign({ id, op }, fields)));
    });
  }

  function connect() {
    if (!key) {
      showLogin('');
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    setConn('connecting', 'connecting…');
    ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`, 'squall.v1');
    ws.onopen = async () => {
      try {
        const a = await request('auth', { key });
        namespaces = a.namespaces || [];
        retry = 0;
        setConn('on', 'live');
        $('ns').textContent = namespaces.join(' · ');
        showApp();
        subs.activations = (await request('subscribe', { topic: 'activations' })).sub;
        subs.entities = (await request('subscribe', { topic: 'entities' })).sub;
        if (followName) subs.follow = (await request('subscribe', { topic: 'logs', action: followName })).sub;
        loadEntities();
        loadRecent();
      } catch (e) {
        /* the close handler says what happened */
      }
    };
    ws.onmessage = (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.id !== undefined && msg.id !== null && pending.has(msg.id)) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.ok) p.resolve(msg);
        else p.reject(Object.assign(new Error(msg.error ? msg.error.error : 'error'), { code: msg.error && msg.error.code }));
        return;
      }
      if (msg.event === 'activation') addActivation(msg.activation, true);
      else if (msg.event === 'entity') entityChanged(msg);
      else if ((msg.event === 'log' || msg.event === 'end') && msg.sub === subs.follow) followLine(msg);
    };
    ws.onclose = (ev) => {
      for (const [, p] of pending) p.reject(new Error('disconnected'));
      pending.clear();
      ws = null;
      subs.activations = subs.entities = subs.follow = null;
      if (ev.code === 4401) {
        setConn('', 'not authenticated');
        sessionStorage.removeItem(KEY_STORE);
        key = '';
        showLogin('The key was refused (or revoked).');
        return;
      }
      const wait = Math.min(10000, 500 * 2 ** retry++);
      setConn('', `disconnected (${ev.code}) — retrying in ${Math.round(wait / 1000)} s`);
      setTimeout(connect, wait);
    };
  }

  // ---------------------------------------------------------------- REST reads

  async function rest(path) {
    const res = await fetch('/api/v1' + path, { headers: { authorization: 'Basic ' + btoa(key) } });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error((body && body.error) || `HTTP ${res.status}`);
    return body;
  }

  async function loadRecent() {
    try {
      const list = await rest('/namespaces/_/activations?limit=30&docs=true');
      for (const a of list.reverse()) addActivation(a, false);
    } catch {}
  }

  async function loadEntities() {
    for (const [kind, path] of [['action', 'actions'], ['trigger', 'triggers'], ['rule', 'rules'], ['package', 'packages']]) {
      try {
        const list = await rest(`/namespaces/_/${path}?limit=200`);
        for (const e of list) {
          const name = e.namespace && e.namespace.includes('/') ? `${e.namespace.split('/').slice(1).join('/')}/${e.name}` : e.name;
          putEntity(kind, name, false);
        }
      } catch {}
    }
  }

  // ---------------------------------------------------------------- activations

  function statusClass(s) {
    return 'status-' + String(s || 'unknown').replace(/[^a-z]+/gi, '-').toLowerCase();
  }

  function fmtTime(ms) {
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  function fmtDuration(ms) {
    if (ms === undefined || ms === null) return '';
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }

  function addActivation(a, fresh) {
    if (!a || !a.activationId || rows.has(a.activationId)) return;
    const status = a.response ? a.response.status : '';
    const tr = document.createElement('tr');
    tr.tabIndex = -1;
    tr.dataset.id = a.activationId;
    tr.dataset.name = a.name;
    const cells = [
      ['name', a.name],
      ['status', null],
      ['num', fmtDuration(a.duration)],
      ['start', fmtTime(a.start)],
    ];
    for (const [cls, text] of cells) {
      const td = document.createElement('td');
      td.className = cls;
      if (cls === 'status') {
        const b = document.createElement('span');
        b.className = 'badge ' + statusClass(status);
        b.textContent = status || '?';
        td.appendChild(b);
      } else td.textContent = text;
      tr.appendChild(td);
    }
    tr.title = a.activationId;
    if (fresh) tr.classList.add('fresh');
    tr.addEventListener('click', () => select(tr, true));
    $('act-body').prepend(tr);
    rows.set(a.activationId, tr);
    while (rows.size > MAX_ROWS) {
      const last = $('act-body').lastElementChild;
      rows.delete(last.dataset.id);
      last.remove();
    }
    applyFilter(tr);
    $('act-count').textContent = rows.size;
    $('act-empty').hidden = rows.size > 0;
  }

  function applyFilter(tr) {
    const f = $('act-filter').value.trim().toLowerCase();
    tr.hidden = f !== '' && !tr.dataset.name.toLowerCase().includes(f);
  }

  function select(tr, open) {
    if (selected) selected.classList.remove('selected');
    selected = tr;
    if (!tr) return;
    tr.classList.add('selected');
    tr.focus({ preventScroll: true });
    tr.scrollIntoView({ block: 'nearest' });
    if (open) openDetail(tr.dataset.id);
  }

  function logLines(pre, lines) {
    pre.textContent = '';
    for (const l of lines) appendLog(pre, l);
  }

  function appendLog(pre, line) {
    const m = /^(\S+Z) (stdout|stderr): ?(.*)$/s.exec(line);
    const div = document.createElement('div');
    if (m) {
      const ts = document.createElement('span');
      ts.className = 'ts';
      ts.textContent = m[1].slice(11, 23) + ' ';
      const tx = document.createElement('span');
      tx.className = m[2];
      tx.textContent = m[3];
      div.append(ts, tx);
    } else div.textContent = line;
    pre.appendChild(div);
  }

  async function openDetail(id) {
    $('detail').hidden = false;
    $('app').classList.remove('no-detail');
    $('detail-title').textContent = 'Activation';
    $('detail-meta').textContent = 'loading…';
    $('detail-result').textContent = '';
    $('detail-logs').textContent = '';
    $('detail-record').textContent = '';
    try {
      const rec = await rest(`/namespaces/_/activations/${id}`);
      $('detail-title').textContent = rec.name;
      const dl = document.createElement('dl');
      dl.className = 'detail-meta';
      const st = rec.response ? rec.response.status : '';
      for (const [k, v] of [['id', rec.activationId], ['status', st], ['duration', fmtDuration(rec.duration)],
        ['start', new Date(rec.start).toISOString()], ['version', rec.version], ['namespace', rec.namespace]]) {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        if (k === 'status') dd.className = statusClass(v);
        dl.append(dt, dd);
      }
      $('detail-meta').replaceWith(dl);
      dl.id = 'detail-meta';
      $('detail-result').textContent = JSON.stringify(rec.response ? rec.response.result : null, null, 2);
      logLines($('detail-logs'), rec.logs || []);
      if (!(rec.logs || []).length) $('detail-logs').textContent = '(no logs)';
      $('detail-record').textContent = JSON.stringify(rec, null, 2);
    } catch (e) {
      $('detail-meta').textContent = 'Could not read the record: ' + e.message;
    }
  }

  function closeDetail() {
    $('detail').hidden = true;
    $('app').classList.add('no-detail');
    if (selected) selected.focus();
  }

  // ---------------------------------------------------------------- entities

  function putEntity(kind, name, changed) {
    const k = `${kind} ${name}`;
    let li = entities.get(k);
    if (!li) {
      li = document.createElement('li');
      const n = document.createElement('span');
      n.textContent = name;
      const kd = document.createElement('span');
      kd.className = 'kind';
      kd.textContent = kind;
      li.append(n, kd);
      li.dataset.kind = kind;
      li.dataset.name = name;
      const list = $('entities');
      const after = [...list.children].find((x) => x.dataset.name.localeCompare(name) > 0);
      list.insertBefore(li, after || null);
      entities.set(k, li);
      const dl = $(kind === 'trigger' ? 'trigger-names' : 'action-names');
      if (kind === 'action' || kind === 'trigger') {
        const o = document.createElement('option');
        o.value = name;
        o.dataset.k = k;
        dl.appendChild(o);
      }
    }
    if (changed) {
      li.classList.remove('changed');
      void li.offsetWidth;
      li.classList.add('changed');
    }
  }

  function entityChanged(ev) {
    const k = `${ev.kind} ${ev.name}`;
    if (ev.change === 'delete') {
      const li = entities.get(k);
      if (li) li.remove();
      entities.delete(k);
      for (const o of document.querySelectorAll('datalist option')) if (o.dataset.k === k) o.remove();
    } else putEntity(ev.kind, ev.name, true);
  }

  // ---------------------------------------------------------------- invoke, fire, follow

  function parseJson(text, out) {
    try {
      const v = text.trim() === '' ? {} : JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a JSON object');
      return v;
    } catch (e) {
      out.classList.add('bad');
      out.textContent = 'Parameters: ' + e.message;
      return null;
    }
  }

  function show(out, ok, value) {
    out.classList.toggle('bad', !ok);
    out.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  }

  $('invoke-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const out = $('inv-out');
    const params = parseJson($('inv-params').value, out);
    if (!params) return;
    const blocking = $('inv-blocking').checked;
    show(out, true, blocking ? 'running…' : 'queueing…');
    try {
      const r = await request('invoke', { action: $('inv-action').value.trim(), params, blocking });
      if (blocking) {
        show(out, r.response && r.response.success, {
          status: r.response && r.response.status, duration: r.duration, result: r.response && r.response.result,
        });
      } else show(out, true, { activationId: r.activationId });
    } catch (e) {
      show(out, false, `${e.code || ''} ${e.message}`.trim());
    }
  });

  $('fire-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const out = $('fire-out');
    const params = parseJson($('fire-params').value, out);
    if (!params) return;
    try {
      const r = await request('fire', { trigger: $('fire-trigger').value.trim(), params });
      show(out, true, r.activationId ? { activationId: r.activationId } : 'No active rule: nothing ran.');
    } catch (e) {
      show(out, false, `${e.code || ''} ${e.message}`.trim());
    }
  });

  let followName = '';
  $('follow-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('follow-action').value.trim();
    const out = $('follow-out');
    try {
      if (subs.follow) await request('unsubscribe', { sub: subs.follow });
      subs.follow = null;
      subs.follow = (await request('subscribe', { topic: 'logs', action: name })).sub;
      followName = name;
      out.classList.remove('bad');
      out.textContent = '';
      const d = document.createElement('div');
      d.className = 'end';
      d.textContent = `following ${name}…`;
      out.appendChild(d);
    } catch (e) {
      show(out, false, `${e.code || ''} ${e.message}`.trim());
    }
  });

  function followLine(msg) {
    const out = $('follow-out');
    const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    if (msg.event === 'log') appendLog(out, msg.line);
    else {
      const d = document.createElement('div');
      d.className = 'end';
      d.textContent = `— ${msg.activationId.slice(0, 12)} ended`;
      out.appendChild(d);
    }
    while (out.childElementCount > 2000) out.firstElementChild.remove();
    if (stick) out.scrollTop = out.scrollHeight;
  }

  // ---------------------------------------------------------------- login, keys

  function showLogin(err) {
    $('login').hidden = false;
    $('app').hidden = true;
    $('logout').hidden = true;
    $('login-error').textContent = err || '';
    $('key').focus();
  }

  function showApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    if ($('detail').hidden) $('app').classList.add('no-detail');
  }

  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    key = $('key').value.trim();
    $('key').value = '';
    if (!/^[^:]+:.+$/.test(key)) {
      $('login-error').textContent = 'A key looks like uuid:secret.';
      return;
    }
    sessionStorage.setItem(KEY_STORE, key);
    $('login-error').textContent = '';
    connect();
  });

  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    key = '';
    if (ws) {
      ws.onclose = null;
      ws.close();
      ws = null;
    }
    setConn('', 'disconnected');
    $('ns').textContent = '';
    showLogin('');
  });

  $('act-filter').addEventListener('input', () => {
    for (const tr of rows.values()) applyFilter(tr);
  });
  $('detail-close').addEventListener('click', closeDetail);

  document.addEventListener('keydown', (ev) => {
    const t = ev.target;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA');
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && typing) {
      const f = t.closest('form');
      if (f) {
        ev.preventDefault();
        f.requestSubmit();
      }
      return;
    }
    if (ev.key === 'Escape') {
      if (typing) t.blur();
      else if (!$('detail').hidden) closeDetail();
      return;
    }
    if (typing || $('app').hidden) return;
    const visible = [...$('act-body').children].filter((r) => !r.hidden);
    const i = selected ? visible.indexOf(selected) : -1;
    if (ev.key === '/') {
      ev.preventDefault();
      $('act-filter').focus();
    } else if (ev.key === 'j' || ev.key === 'ArrowDown') {
      ev.preventDefault();
      select(visible[Math.min(visible.length - 1, i + 1)] || null, false);
    } else if (ev.key === 'k' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      select(visible[Math.max(0, i - 1)] || null, false);
    } else if (ev.key === 'Enter' && selected) {
      openDetail(selected.dataset.id);
    } else if (ev.key === 'i') {
      ev.preventDefault();
      $('inv-action').focus();
    }
  });

  $('app').classList.add('no-detail');
  connect();
})();

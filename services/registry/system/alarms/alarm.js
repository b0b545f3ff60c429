// Fires a trigger on a cron schedule (UTC; 5 fields, or 6 with seconds): cron, trigger_payload, startDate, stopDate.
const TYPE = 'alarm';

// The feed's work, the same in alarm.js, interval.js and once.js: OpenWhisk's feed
// protocol (lifecycleEvent CREATE, READ, UPDATE, DELETE, PAUSE, UNPAUSE; triggerName;
// authKey) over the REST API. The settings live on the trigger as its annotation "alarm"
// (dates as ms since the epoch); squall-triggers keeps the durable timer from it and fires
// the trigger at each tick, once across all its copies.
const FIELDS = [5, 6];
const LO = [0, 0, 0, 1, 1, 0], HI = [59, 59, 23, 31, 12, 7];
const NAMES = { 4: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], 5: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] };

function cronError(expr) {
  if (typeof expr !== 'string') return 'cron must be a string';
  const f = expr.trim().split(/\s+/);
  if (!FIELDS.includes(f.length)) return `a cron expression has 5 or 6 fields, not ${f.length}`;
  const off = f.length === 6 ? 0 : 1;
  for (let i = 0; i < f.length; i++) {
    const field = i + off;
    const val = (s) => {
      if (/^\d+$/.test(s)) return Number(s);
      const names = NAMES[field];
      const k = names ? names.indexOf(s.toLowerCase()) : -1;
      return k < 0 ? NaN : field === 4 ? k + 1 : k;
    };
    for (const item of f[i].split(',')) {
      const m = /^(\*|\?|[^-/]+(?:-[^-/]+)?)(?:\/(\d+))?$/.exec(item);
      if (!m || (m[2] !== undefined && Number(m[2]) <= 0)) return `invalid cron field "${f[i]}"`;
      if (m[1] === '*' || m[1] === '?') continue;
      const [a, b] = m[1].split('-').map(val);
      const hi = b === undefined ? a : b;
      if (!(a >= LO[field] && hi <= HI[field] && a <= hi)) return `invalid cron field "${f[i]}"`;
    }
  }
  return null;
}

function ms(v, what) {
  if (v === undefined || v === null || v === '') return 0;
  const t = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(t) || t <= 0) throw new Error(`${what} is not a date: ${JSON.stringify(v)}`);
  return t;
}

// The settings of this feed from the parameters (all of them, or merged over old ones).
function settings(p, old) {
  const c = Object.assign({ type: TYPE }, old || {});
  if (p.trigger_payload !== undefined) {
    if (typeof p.trigger_payload !== 'object' || p.trigger_payload === null || Array.isArray(p.trigger_payload)) throw new Error('trigger_payload must be an object');
    c.trigger_payload = p.trigger_payload;
  }
  if (p.startDate !== undefined) c.startDate = ms(p.startDate, 'startDate');
  if (p.stopDate !== undefined) c.stopDate = ms(p.stopDate, 'stopDate');
  if (TYPE === 'alarm') {
    if (p.cron !== undefined) c.cron = p.cron;
    const e = cronError(c.cron);
    if (e) throw new Error(e);
  } else if (TYPE === 'interval') {
    if (p.minutes !== undefined) c.minutes = Number(p.minutes);
    if (!Number.isInteger(c.minutes) || c.minutes <= 0) throw new Error('minutes must be a positive integer');
  } else {
    if (p.date !== undefined) c.date = ms(p.date, 'date');
    if (!c.date) throw new Error('a once alarm needs a date');
    if (!old && c.date <= Date.now()) throw new Error('the date is in the past');
  }
  if (c.stopDate && c.startDate && c.stopDate <= c.startDate) throw new Error('stopDate is not after startDate');
  return c;
}

async function main(p) {
  const host = (process.env.__OW_API_HOST || '').replace(/\/$/, '');
  const key = p.authKey || process.env.__OW_API_KEY;
  const event = String(p.lifecycleEvent || '').toUpperCase();
  const parts = String(p.triggerName || '').replace(/^\//, '').split('/');
  if (parts.length !== 2 || !parts[1]) return { error: 'triggerName must be /namespace/trigger' };
  if (!key) return { error: 'no authKey' };
  const url = `${host}/api/v1/namespaces/${encodeURIComponent(parts[0])}/triggers/${encodeURIComponent(parts[1])}`;
  const headers = { authorization: 'Basic ' + Buffer.from(key).toString('base64'), 'content-type': 'application/json' };
  const get = async () => {
    const r = await fetch(url, { headers });
    if (r.status === 404) return null;
    if (r.status !== 200) throw new Error(`reading the trigger: HTTP ${r.status} ${await r.text()}`);
    return r.json();
  };
  const put = async (t, cfg) => {
    const annotations = (t.annotations || []).filter((a) => a.key !== 'alarm' && a.key !== 'feed');
    if (cfg) annotations.push({ key: 'feed', value: `/whisk.system/alarms/${TYPE}` }, { key: 'alarm', value: cfg });
    const r = await fetch(url + '?overwrite=true', { method: 'PUT', headers, body: JSON.stringify({ parameters: t.parameters || [], annotations, publish: t.publish || false }) });
    if (r.status !== 200) throw new Error(`updating the trigger: HTTP ${r.status} ${await r.text()}`);
  };
  const current = (t) => ((t && t.annotations) || []).find((a) => a.key === 'alarm');
  try {
    if (!['CREATE', 'READ', 'UPDATE', 'DELETE', 'PAUSE', 'UNPAUSE'].includes(event)) return { error: `unknown lifecycleEvent "${p.lifecycleEvent}"` };
    const cfg = event === 'CREATE' ? settings(p) : null; // bad settings: refused before anything is written
    const t = await get();
    if (!t) return event === 'DELETE' ? {} : { error: `trigger ${p.triggerName} does not exist` };
    const old = current(t);
    switch (event) {
      case 'CREATE': await put(t, cfg); return {};
      case 'DELETE': if (old) await put(t, null); return {};
      case 'READ':
        if (!old) return { error: `trigger ${p.triggerName} has no ${TYPE} feed` };
        return { config: Object.assign({ name: parts[1], namespace: parts[0] }, old.value), status: { active: !old.value.paused } };
      case 'UPDATE':
        if (!old) return { error: `trigger ${p.triggerName} has no ${TYPE} feed` };
        await put(t, settings(p, old.value)); return {};
      default: // PAUSE, UNPAUSE
        if (!old) return { error: `trigger ${p.triggerName} has no ${TYPE} feed` };
        await put(t, Object.assign({}, old.value, { paused: event === 'PAUSE' })); return {};
    }
  } catch (e) {
    return { error: e.message };
  }
}

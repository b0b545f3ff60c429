// Fires a trigger for every message on a NATS subject below ext.<namespace>.: subject.
// OpenWhisk's feed protocol (lifecycleEvent CREATE, READ, UPDATE, DELETE, PAUSE, UNPAUSE;
// triggerName; authKey) over the REST API: the settings go onto the trigger as its annotation
// "nats" ({subject, paused}); squall-triggers subscribes (once across its copies) and fires
// the trigger with each message (a JSON object or msgpack map as is, else {message: text}).

// The namespace as a subject token: letters, digits, _ and - stay; other bytes are %XX.
function token(s) {
  return Array.from(Buffer.from(s, 'utf8')).map((b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9_-]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }).join('');
}

function subjectError(ns, subject) {
  const prefix = `ext.${token(ns)}.`;
  if (typeof subject !== 'string' || subject.length <= prefix.length || !subject.startsWith(prefix)) return `the subject must start with "${prefix}"`;
  if (/[\s\x00-\x20\x7f]/.test(subject) || /\.\.|\.$/.test(subject)) return 'the subject is not a valid NATS subject';
  return null;
}

async function main(p) {
  const host = (process.env.__OW_API_HOST || '').replace(/\/$/, '');
  const key = p.authKey; // as OpenWhisk hands every feed action; code of whisk.system never gets a caller's key
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
    const annotations = (t.annotations || []).filter((a) => a.key !== 'nats' && a.key !== 'feed');
    if (cfg) annotations.push({ key: 'feed', value: '/whisk.system/nats/subscribe' }, { key: 'nats', value: cfg });
    const r = await fetch(url + '?overwrite=true', { method: 'PUT', headers, body: JSON.stringify({ parameters: t.parameters || [], annotations, publish: t.publish || false }) });
    if (r.status !== 200) throw new Error(`updating the trigger: HTTP ${r.status} ${await r.text()}`);
  };
  try {
    if (!['CREATE', 'READ', 'UPDATE', 'DELETE', 'PAUSE', 'UNPAUSE'].includes(event)) return { error: `unknown lifecycleEvent "${p.lifecycleEvent}"` };
    const t = await get();
    if (!t) return event === 'DELETE' ? {} : { error: `trigger ${p.triggerName} does not exist` };
    const old = (t.annotations || []).find((a) => a.key === 'nats');
    if (event === 'CREATE' || event === 'UPDATE') {
      if (event === 'UPDATE' && !old) return { error: `trigger ${p.triggerName} has no NATS feed` };
      const subject = p.subject !== undefined ? p.subject : old && old.value.subject;
      const e = subjectError(t.namespace, subject);
      if (e) return { error: e };
      await put(t, { subject, paused: event === 'UPDATE' ? !!old.value.paused : false });
      return {};
    }
    if (event === 'DELETE') {
      if (old) await put(t, null);
      return {};
    }
    if (!old) return { error: `trigger ${p.triggerName} has no NATS feed` };
    if (event === 'READ') return { config: { name: parts[1], namespace: t.namespace, subject: old.value.subject }, status: { active: !old.value.paused } };
    await put(t, Object.assign({}, old.value, { paused: event === 'PAUSE' }));
    return {};
  } catch (e) {
    return { error: e.message };
  }
}

// kbk ui: the page. Vanilla JS, no framework, nothing fetched from anywhere but this server's /api (docs/ui.md).
'use strict';
(function () {
  const S = { csrf: '', location: 0, cluster: false, backups: [], view: 'backups', compose: null };
  const main = document.getElementById('main');
  const status = document.getElementById('status');

  // ---- helpers ------------------------------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  let uid = 0;
  const id = (p) => p + '-' + (++uid);
  function field(label, input, hint) {
    input.id = input.id || id('f');
    return h('label', { for: input.id }, label, input, hint ? h('span', { class: 'muted' }, hint) : null);
  }
  function say(msg) { status.textContent = msg; }
  async function api(path, opts) {
    opts = opts || {};
    const sep = path.includes('?') ? '&' : '?';
    const url = path + sep + 'location=' + S.location;
    const init = { method: opts.method || 'GET', headers: {}, credentials: 'same-origin' };
    if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRF-Token'] = S.csrf;
    }
    const r = await fetch(url, init);
    const type = r.headers.get('Content-Type') || '';
    const body = type.includes('json') ? await r.json() : await r.text();
    if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
    return body;
  }
  function bytes(n) {
    if (!n) return '-';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  function age(ts) {
    if (!ts) return '-';
    const s = (Date.now() - Date.parse(ts)) / 1000;
    if (isNaN(s)) return ts;
    if (s < 120) return Math.round(s) + 's';
    if (s < 7200) return Math.round(s / 60) + 'm';
    if (s < 172800) return Math.round(s / 3600) + 'h';
    return Math.round(s / 86400) + 'd';
  }
  function show(view, ...nodes) {
    S.view = view;
    for (const b of document.querySelectorAll('nav button')) {
      if (b.dataset.view === view) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
    }
    main.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
    const first = main.querySelector('h2');
    if (first) { first.tabIndex = -1; first.focus(); }
  }
  function errorBox(e) { return h('p', { class: 'error', role: 'alert' }, e.message || String(e)); }
  function diffView(text) {
    if (!text || !text.trim()) return h('p', { class: 'muted' }, 'No differences.');
    const pre = h('pre', { class: 'diff', tabindex: '0', 'aria-label': 'Diff' });
    for (const line of text.split('\n')) {
      const cls = line.startsWith('+++') || line.startsWith('---') ? 'hunk' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : '';
      pre.append(h('div', { class: cls }, line || ' '));
    }
    return pre;
  }

  // ---- backups --------------------------------------------------------------------------------------------------
  async function viewBackups() {
    show('backups', h('h2', {}, 'Backups'), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const list = await api('/api/backups');
      S.backups = list.items;
      const rows = list.items.map((b) => h('tr', {},
        h('td', {}, h('button', { type: 'button', class: 'obj', onclick: () => viewBackup(b.name), 'aria-label': 'Open backup ' + b.name }, b.name)),
        h('td', {}, b.phase), h('td', { title: b.startTimestamp }, age(b.startTimestamp)), h('td', {}, bytes(b.bytes)),
        h('td', {}, b.counts.items), h('td', { class: 'hide-narrow' }, b.counts.warnings + ' / ' + b.counts.errors),
        h('td', { class: 'hide-narrow' }, b.encrypted ? 'yes' : 'no'), h('td', { class: 'hide-narrow' }, b.source),
        h('td', { class: 'hide-narrow' }, (b.cluster && (b.cluster.name || (b.cluster.kubeSystemUID || '').slice(0, 8))) || '-')));
      show('backups', h('h2', {}, 'Backups'),
        list.items.length ? h('div', { class: 'scroll' }, h('table', { id: 'backups' },
          h('caption', { class: 'muted' }, 'kbk backup list: ' + list.items.length + ' backups'),
          h('thead', {}, h('tr', {}, ['Name', 'Phase', 'Age', 'Size', 'Items'].map((t) => h('th', { scope: 'col' }, t)),
            h('th', { scope: 'col', class: 'hide-narrow' }, 'Warnings / errors'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Encrypted'),
            h('th', { scope: 'col', class: 'hide-narrow' }, 'Source'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Cluster'))),
          h('tbody', {}, rows))) : h('p', {}, 'No backups in this location.'));
    } catch (e) { show('backups', h('h2', {}, 'Backups'), errorBox(e)); }
  }

  function tree(contents) {
    const t = {};
    for (const o of contents) {
      const ns = o.namespace || '(cluster-scoped)';
      ((t[ns] = t[ns] || {})[o.kind || o.resource] = t[ns][o.kind || o.resource] || []).push(o);
    }
    return t;
  }
  const refOf = (o) => o.resource + '/' + (o.namespace ? o.namespace + '/' : '') + o.name;

  async function viewBackup(name) {
    show('backups', h('h2', {}, 'Backup ' + name), h('p', { class: 'muted' }, 'Loading…'));
    let d, contents = null, cerr = null;
    try { d = await api('/api/backups/' + encodeURIComponent(name)); } catch (e) { return show('backups', h('h2', {}, 'Backup ' + name), errorBox(e)); }
    try { contents = await api('/api/backups/' + encodeURIComponent(name) + '/contents'); } catch (e) { cerr = e; }
    const objPane = h('section', { 'aria-label': 'Object' }, h('p', { class: 'muted' }, 'Choose an object in the tree.'));
    const facts = [['Phase', d.phase || (d.status && d.status.phase) || '-'], ['Source cluster', (d.cluster && d.cluster.server) || '-'],
      ['Started', d.startTimestamp || (d.status && d.status.startTimestamp) || '-'], ['Items', d.counts ? d.counts.items : '-'],
      ['Warnings / errors', d.counts ? d.counts.warnings + ' / ' + d.counts.errors : '-'],
      ['Encrypted', d.encryption ? 'yes' : 'no']];
    const dl = h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
    const vols = (d.volumes || []).length ? h('details', {}, h('summary', {}, 'Volumes (' + d.volumes.length + ')'),
      h('div', { class: 'scroll' }, h('table', {}, h('tr', {}, ['Kind', 'Namespace', 'Name', 'Data'].map((t) => h('th', {}, t))),
        d.volumes.map((v) => h('tr', {}, h('td', {}, v.kind), h('td', {}, v.namespace || '-'), h('td', {}, v.claim || v.pod || v.persistentVolume || '-'),
          h('td', {}, v.dataIncluded ? 'included' : (v.message || 'not included'))))))) : null;
    const msgs = ['errors', 'warnings'].filter((k) => (d[k] || []).length).map((k) => h('details', {}, h('summary', {}, k + ' (' + d[k].length + ')'), h('ul', {}, d[k].map((l) => h('li', {}, l)))));
    const logsBtn = h('button', { type: 'button', onclick: async () => {
      try { const l = await api('/api/backups/' + encodeURIComponent(name) + '/logs'); objPane.replaceChildren(h('h3', {}, 'Log'), h('pre', { tabindex: '0' }, (l.lines || []).join('\n'))); }
      catch (e) { objPane.replaceChildren(errorBox(e)); } } }, 'Log');
    const treeEl = h('nav', { class: 'tree', 'aria-label': 'Contents' });
    if (contents) {
      const t = tree(contents);
      for (const ns of Object.keys(t).sort()) {
        const nd = h('details', { open: Object.keys(t).length < 4 }, h('summary', {}, ns));
        for (const kind of Object.keys(t[ns]).sort()) {
          nd.append(h('details', { open: t[ns][kind].length < 6 }, h('summary', {}, kind + ' (' + t[ns][kind].length + ')'),
            h('ul', {}, t[ns][kind].map((o) => h('li', {}, h('button', { type: 'button', class: 'obj', 'data-ref': refOf(o), onclick: () => viewObject(name, o, objPane) }, o.name))))));
        }
        treeEl.append(nd);
      }
    } else treeEl.append(errorBox(cerr));
    show('backups', h('h2', {}, 'Backup ' + name), dl,
      h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', onclick: () => viewCompose(name) }, 'Restore from this backup'), logsBtn,
        h('button', { type: 'button', onclick: viewBackups }, 'All backups')),
      vols, msgs, h('div', { class: 'cols' }, h('section', { 'aria-label': 'Contents tree' }, h('h3', {}, 'Contents'), treeEl), objPane));
  }

  async function viewObject(backup, o, pane) {
    const ref = refOf(o);
    pane.replaceChildren(h('h3', { tabindex: '-1' }, ref), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const yaml = await api('/api/backups/' + encodeURIComponent(backup) + '/object?format=yaml&ref=' + encodeURIComponent(ref));
      const other = h('select', {}, S.backups.filter((b) => b.name !== backup).map((b) => h('option', { value: b.name }, b.name)));
      const out = h('div', {});
      const diff = async (q) => {
        out.replaceChildren(h('p', { class: 'muted' }, 'Comparing…'));
        try { const r = await api('/api/diff?from=' + encodeURIComponent(backup) + '&name=' + encodeURIComponent(ref) + q); out.replaceChildren(h('h4', {}, 'Diff'), diffView(r.text)); }
        catch (e) { out.replaceChildren(errorBox(e)); }
      };
      pane.replaceChildren(h('h3', { tabindex: '-1' }, ref),
        h('div', { class: 'row' },
          S.cluster ? h('button', { type: 'button', onclick: () => diff('&live=true') }, 'Diff against live') : null,
          other.options.length ? field('Other backup', other) : null,
          other.options.length ? h('button', { type: 'button', onclick: () => diff('&to=' + encodeURIComponent(other.value)) }, 'Diff against backup') : null),
        out, h('pre', { class: 'yaml', tabindex: '0', 'aria-label': 'YAML of ' + ref }, yaml));
      pane.querySelector('h3').focus();
    } catch (e) { pane.replaceChildren(errorBox(e)); }
  }

  // ---- restore composer -----------------------------------------------------------------------------------------
  function listInput(value) { return h('input', { type: 'text', value: value || '', placeholder: 'a,b' }); }
  function pairRows(title, left, right, sepHint) {
    const box = h('fieldset', { class: 'card' }, h('legend', {}, title));
    const rows = h('div', {});
    const add = (a, b) => {
      const l = h('input', { type: 'text', value: a || '' }), r = h('input', { type: 'text', value: b || '' });
      const row = h('div', { class: 'row pair' }, field(left, l), field(right, r), h('button', { type: 'button', onclick: () => { row.remove(); S.changed(); } }, 'Remove'));
      l.addEventListener('input', S.changed); r.addEventListener('input', S.changed);
      rows.append(row);
      return row;
    };
    box.append(rows, h('button', { type: 'button', onclick: () => { add().querySelector('input').focus(); } }, 'Add ' + sepHint));
    box.value = () => {
      const o = {};
      for (const row of rows.querySelectorAll('.pair')) {
        const [a, b] = row.querySelectorAll('input');
        if (a.value.trim() || b.value.trim()) o[a.value.trim()] = b.value.trim();
      }
      return o;
    };
    box.add = add;
    return box;
  }

  // One modification: target + patch kind + text, validated as typed; or a ConfigMap/Secret editor; or a Service type.
  function patchCard(opts) {
    opts = opts || {};
    const kind = h('select', {}, h('option', { value: 'strategic' }, 'Strategic merge patch'), h('option', { value: 'merge' }, 'JSON merge patch'), h('option', { value: 'json' }, 'JSON patch (RFC 6902)'));
    kind.value = opts.kind || 'strategic';
    const res = h('input', { type: 'text', value: opts.resource || '', placeholder: 'deployments.apps' });
    const ns = h('input', { type: 'text', value: opts.namespace || '', placeholder: 'shop' });
    const nm = h('input', { type: 'text', value: opts.name || '', placeholder: 'web' });
    const ta = h('textarea', { rows: '8', spellcheck: 'false', 'aria-describedby': '' });
    ta.value = opts.text || '';
    ta.id = id('patch');
    const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
    const msg = h('p', { id: id('msg'), class: 'muted', 'aria-live': 'polite' });
    ta.setAttribute('aria-describedby', msg.id);
    const card = h('fieldset', { class: 'card patch' }, h('legend', {}, opts.title || 'Patch'),
      h('div', { class: 'row' }, field('Resource', res), field('Namespace', ns), field('Name', nm), field('Patch type', kind)),
      h('label', { for: ta.id }, 'Patch (YAML or JSON)'), h('div', { class: 'editor' }, gutter, ta), msg,
      h('button', { type: 'button', onclick: () => { card.remove(); S.changed(); } }, 'Remove patch'));
    let timer = null;
    card.valid = true; card.parsed = null;
    const paint = (bad) => {
      const n = ta.value.split('\n').length;
      gutter.replaceChildren(...Array.from({ length: n }, (_, i) => h('div', { class: bad === i + 1 ? 'err' : '' }, String(i + 1))));
    };
    const check = async () => {
      try {
        const r = await api('/api/validate', { method: 'POST', body: { kind: kind.value, text: ta.value } });
        card.valid = r.valid; card.parsed = r.value === undefined ? null : r.value;
        if (r.valid) { msg.className = 'ok'; msg.textContent = 'Valid ' + kind.options[kind.selectedIndex].text.toLowerCase() + '.'; ta.removeAttribute('aria-invalid'); paint(0); }
        else {
          const p = r.problems[0];
          msg.className = 'error patch-error';
          msg.textContent = 'Line ' + p.line + ', column ' + p.column + ': ' + p.message;
          ta.setAttribute('aria-invalid', 'true'); paint(p.line);
        }
      } catch (e) { msg.className = 'error'; msg.textContent = e.message; }
      S.changed();
    };
    const later = () => { paint(0); clearTimeout(timer); timer = setTimeout(check, 250); };
    ta.addEventListener('input', later); kind.addEventListener('change', later);
    for (const i of [res, ns, nm]) i.addEventListener('input', S.changed);
    ta.addEventListener('scroll', () => { gutter.scrollTop = ta.scrollTop; });
    card.rule = () => ({ resource: res.value.trim(), namespace: ns.value.trim(), name: nm.value.trim(), kind: kind.value, text: ta.value, parsed: card.parsed });
    card.check = check;
    paint(0);
    if (ta.value) check();
    return card;
  }

  function b64d(s) { try { return decodeURIComponent(escape(atob(s))); } catch (e) { return atob(s); } }
  function b64e(s) { return btoa(unescape(encodeURIComponent(s))); }

  // ConfigMap / Secret key-value editor: the changes become a strategic merge patch of data (null removes a key).
  function kvCard(backup, contents, which) {
    const secret = which === 'Secret';
    const objs = contents.filter((o) => o.kind === which);
    const pick = h('select', {}, h('option', { value: '' }, 'Choose a ' + which), objs.map((o) => h('option', { value: refOf(o) }, (o.namespace ? o.namespace + '/' : '') + o.name)));
    const rows = h('div', {});
    const card = h('fieldset', { class: 'card kv' }, h('legend', {}, which + ' values'), field(which, pick), rows);
    let orig = {}, target = null;
    pick.addEventListener('change', async () => {
      rows.replaceChildren();
      target = objs.find((o) => refOf(o) === pick.value) || null;
      if (!target) return S.changed();
      const obj = await api('/api/backups/' + encodeURIComponent(backup) + '/object?ref=' + encodeURIComponent(pick.value));
      orig = {};
      for (const [k, v] of Object.entries(obj.data || {})) orig[k] = secret ? b64d(v) : v;
      for (const k of Object.keys(orig).sort()) addRow(k, orig[k], true);
      rows.append(h('button', { type: 'button', onclick: (ev) => { const r = addRow('', '', false); ev.target.before(r); r.querySelector('input').focus(); } }, 'Add key'));
      S.changed();
    });
    function addRow(k, v, existing) {
      const key = h('input', { type: 'text', value: k, readonly: existing || null, class: 'key' });
      const val = h('input', { type: secret ? 'password' : 'text', value: v, class: 'value', autocomplete: 'off' });
      const del = h('input', { type: 'checkbox', class: 'del' });
      const row = h('div', { class: 'row kvrow' }, field('Key', key), field('Value', val),
        secret ? h('button', { type: 'button', 'aria-pressed': 'false', onclick: (ev) => { const shown = val.type === 'text'; val.type = shown ? 'password' : 'text'; ev.target.setAttribute('aria-pressed', String(!shown)); ev.target.textContent = shown ? 'Show' : 'Hide'; } }, 'Show') : null,
        field('Remove', del));
      for (const i of [key, val, del]) i.addEventListener('input', S.changed);
      if (existing) rows.append(row);
      return row;
    }
    card.rule = () => {
      if (!target) return null;
      const data = {};
      for (const row of rows.querySelectorAll('.kvrow')) {
        const k = row.querySelector('.key').value.trim(), v = row.querySelector('.value').value, del = row.querySelector('.del').checked;
        if (!k) continue;
        if (del) { if (k in orig) data[k] = null; }
        else if (orig[k] !== v) data[k] = secret ? b64e(v) : v;
      }
      if (!Object.keys(data).length) return null;
      return { resource: secret ? 'secrets' : 'configmaps', namespace: target.namespace, name: target.name, kind: 'strategic', parsed: { data }, secret };
    };
    return card;
  }

  // A Service's type and ports: a strategic merge patch of spec (ports merge by port number).
  function serviceCard(backup, contents) {
    const objs = contents.filter((o) => o.kind === 'Service');
    const pick = h('select', {}, h('option', { value: '' }, 'Choose a Service'), objs.map((o) => h('option', { value: refOf(o) }, o.namespace + '/' + o.name)));
    const type = h('select', {}, ['', 'ClusterIP', 'NodePort', 'LoadBalancer'].map((t) => h('option', { value: t }, t || '(unchanged)')));
    const ports = h('div', {});
    let orig = [];
    pick.addEventListener('change', async () => {
      ports.replaceChildren(); orig = [];
      if (pick.value) {
        const obj = await api('/api/backups/' + encodeURIComponent(backup) + '/object?ref=' + encodeURIComponent(pick.value));
        orig = (obj.spec && obj.spec.ports) || [];
        type.value = '';
        for (const p of orig) {
          const tp = h('input', { type: 'text', class: 'target', value: p.targetPort === undefined ? '' : String(p.targetPort), size: '8' });
          const np = h('input', { type: 'number', class: 'nodeport', min: '30000', max: '32767', value: p.nodePort || '' });
          for (const i of [tp, np]) i.addEventListener('input', S.changed);
          ports.append(h('div', { class: 'row port', 'data-port': p.port }, h('span', {}, 'Port ' + p.port + (p.name ? ' (' + p.name + ')' : '') + ' ' + (p.protocol || 'TCP')),
            field('Target port', tp), field('Node port', np, 'NodePort/LoadBalancer')));
        }
      }
      S.changed();
    });
    type.addEventListener('change', S.changed);
    const card = h('fieldset', { class: 'card svc' }, h('legend', {}, 'Service type and ports'), h('div', { class: 'row' }, field('Service', pick), field('Type', type)), ports);
    card.rule = () => {
      const o = objs.find((x) => refOf(x) === pick.value);
      if (!o) return null;
      const spec = {};
      if (type.value) spec.type = type.value;
      const changed = [];
      for (const row of ports.querySelectorAll('.port')) {
        const p = orig.find((x) => String(x.port) === row.dataset.port);
        const tv = row.querySelector('.target').value.trim(), nv = row.querySelector('.nodeport').value.trim();
        const e = { port: p.port };
        if (tv !== '' && tv !== String(p.targetPort === undefined ? '' : p.targetPort)) e.targetPort = /^\d+$/.test(tv) ? Number(tv) : tv;
        if (nv !== '' && Number(nv) !== p.nodePort) e.nodePort = Number(nv);
        if (Object.keys(e).length > 1) changed.push(e);
      }
      if (changed.length) spec.ports = changed;
      return Object.keys(spec).length ? { resource: 'services', namespace: o.namespace, name: o.name, kind: 'strategic', parsed: { spec } } : null;
    };
    return card;
  }

  const q = (s) => JSON.stringify(s);
  function regexName(n) { return '^' + n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$'; }
  // The resource-modifier file (kbk.io/v1, docs/format-modifiers.md) of every modification, in order.
  function modifierFile(cards) {
    const rules = [];
    for (const c of cards) {
      const r = c.rule();
      if (!r || (!r.text && !r.parsed)) continue;
      let out = '- name: ' + q((r.secret ? 'secret ' : r.resource + ' ') + (r.namespace ? r.namespace + '/' : '') + (r.name || '*')) + '\n  conditions:\n    groupResource: ' + q(r.resource || '*') + '\n';
      if (r.namespace) out += '    namespaces: [' + q(r.namespace) + ']\n';
      if (r.name) out += '    resourceNameRegex: ' + q(regexName(r.name)) + '\n';
      if (r.kind === 'json') out += '  patches: ' + JSON.stringify(r.parsed || []) + '\n';
      else {
        const key = r.kind === 'merge' ? 'mergePatches' : 'strategicPatches';
        if (r.text !== undefined && r.text.trim() && !/^\s/.test(r.text)) out += '  ' + key + ':\n  - patchData: |-\n' + r.text.replace(/\s+$/, '').split('\n').map((l) => '      ' + l).join('\n') + '\n';
        else out += '  ' + key + ':\n  - patchData: ' + JSON.stringify(r.parsed) + '\n';
      }
      rules.push(out);
    }
    return rules.length ? 'version: kbk.io/v1\nrules:\n' + rules.join('') : '';
  }

  async function viewCompose(backup) {
    if (!S.backups.length) try { S.backups = (await api('/api/backups')).items; } catch (e) { return show('restore', h('h2', {}, 'Restore'), errorBox(e)); }
    backup = backup || (S.backups[0] && S.backups[0].name);
    if (!backup) return show('restore', h('h2', {}, 'Restore'), h('p', {}, 'No backups in this location.'));
    let contents = [];
    try { contents = await api('/api/backups/' + encodeURIComponent(backup) + '/contents'); } catch (e) { say(e.message); }
    const namespaces = [...new Set(contents.map((o) => o.namespace).filter(Boolean))].sort();
    const kinds = [...new Set(contents.map((o) => o.resource))].sort();
    S.changed = () => { clearTimeout(S.exportTimer); S.exportTimer = setTimeout(refreshExport, 300); };
    const pickBackup = h('select', { id: 'backup-select' }, S.backups.map((b) => h('option', { value: b.name, selected: b.name === backup }, b.name)));
    pickBackup.addEventListener('change', () => viewCompose(pickBackup.value));
    const name = h('input', { type: 'text', id: 'restore-name', placeholder: backup + '-…' });
    const nsBoxes = h('fieldset', { class: 'card' }, h('legend', {}, 'Namespaces (none checked: all)'),
      namespaces.map((n) => { const c = h('input', { type: 'checkbox', value: n, class: 'ns', id: id('ns') }); c.addEventListener('change', S.changed); return h('label', { for: c.id, class: 'check' }, c, ' ', n, ' '); }));
    const incRes = listInput(); incRes.setAttribute('list', 'kinds');
    const incNames = listInput(); const selector = h('input', { type: 'text', placeholder: 'app=web,tier!=test' });
    const apps = h('input', { type: 'text', placeholder: 'apps/shop.yaml' });
    const policy = h('select', {}, ['none', 'update', 'recreate'].map((p) => h('option', { value: p }, p)));
    for (const i of [name, incRes, incNames, selector, apps, policy]) i.addEventListener('input', S.changed);
    const nsMap = pairRows('Namespace mappings', 'From namespace', 'To namespace', 'namespace mapping');
    const scMap = pairRows('Storage class mappings', 'From class', 'To class', 'storage class mapping');
    const imMap = pairRows('Image mappings', 'From image prefix', 'To image prefix', 'image mapping');
    const cards = h('div', { id: 'modifications' });
    const addCard = (c) => { cards.append(c); const f = c.querySelector('input,select,textarea'); if (f) f.focus(); S.changed(); };
    const exportBox = h('div', {});
    const results = h('section', { 'aria-label': 'Results', id: 'results' });
    const spec = () => ({
      backup, name: name.value.trim(), includeNamespaces: [...nsBoxes.querySelectorAll('input.ns:checked')].map((c) => c.value),
      includeResources: incRes.value, includeNames: incNames.value, selector: selector.value.trim(), applications: apps.value, existingResourcePolicy: policy.value,
      namespaceMappings: nsMap.value(), storageClassMappings: scMap.value(), imageMappings: imMap.value(),
      modifiers: modifierFile([...cards.children]),
    });
    const invalid = () => [...cards.querySelectorAll('.patch')].some((c) => !c.valid);
    async function refreshExport() {
      const s = spec();
      try {
        const r = await api('/api/command', { method: 'POST', body: s });
        const file = r.modifiers;
        exportBox.replaceChildren(h('h3', {}, 'Command line'), h('pre', { id: 'command', tabindex: '0' }, r.command),
          file ? h('h3', {}, 'Modifier file (MODIFIERS.yaml)') : null, file ? h('pre', { id: 'modifiers', tabindex: '0' }, file) : null,
          file ? h('a', { href: URL.createObjectURL(new Blob([file], { type: 'text/yaml' })), download: 'MODIFIERS.yaml' }, 'Download MODIFIERS.yaml') : null);
        if (file) {
          const v = await api('/api/validate', { method: 'POST', body: { modifiers: file } });
          if (!v.valid) exportBox.append(h('p', { class: 'error' }, v.problems.map((p) => 'MODIFIERS.yaml:' + p.line + ':' + p.column + ': ' + p.message).join('\n')));
        }
      } catch (e) { exportBox.replaceChildren(errorBox(e)); }
    }
    async function preview() {
      if (invalid()) return results.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Fix the patch errors first.'));
      results.replaceChildren(h('h3', {}, 'Preview'), h('p', { class: 'muted' }, 'Planning the restore into a folder and comparing…'));
      try {
        const r = await api('/api/preview', { method: 'POST', body: spec() });
        const items = (r.diff.items || []).map((i) => h('li', {}, i.change + ' ' + i.resource + '/' + (i.namespace ? i.namespace + '/' : '') + i.name));
        results.replaceChildren(h('h3', { tabindex: '-1' }, 'Preview'), h('p', {}, (r.restore && r.restore.counts ? (r.restore.counts.planned || r.restore.counts.total || '') : '') + ''),
          h('p', { id: 'preview-summary' }, r.diff.counts.changed + ' changed, ' + r.diff.counts.added + ' added, ' + r.diff.counts.removed + ' removed, ' + r.diff.counts.unchanged + ' unchanged by the modifications'),
          h('ul', {}, items), h('div', { id: 'preview-diff' }, diffView(r.text)));
        results.querySelector('h3').focus();
      } catch (e) { results.replaceChildren(h('h3', {}, 'Preview'), errorBox(e)); }
    }
    async function run(dry) {
      if (invalid()) return results.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Fix the patch errors first.'));
      const body = spec(); if (dry) body.dryRun = 'server';
      results.replaceChildren(h('h3', {}, dry ? 'Server dry run' : 'Restore'), h('p', { class: 'muted' }, 'Starting…'));
      try { const job = await api('/api/restores', { method: 'POST', body }); follow(job, results, dry ? 'Server dry run' : 'Restore', restoreResult); }
      catch (e) { results.append(errorBox(e)); }
    }
    show('restore', h('h2', {}, 'Restore'),
      h('datalist', { id: 'kinds' }, kinds.map((k) => h('option', { value: k }))),
      h('div', { class: 'row' }, field('Backup', pickBackup), field('Restore name', name), field('Existing objects', policy)),
      h('h3', {}, 'What to restore'), nsBoxes,
      h('div', { class: 'row' }, field('Resources', incRes, 'comma-separated'), field('Names', incNames, 'resource/ns/name'), field('Label selector', selector),
        field('Applications', apps, 'definition files or folders, comma-separated')),
      h('h3', {}, 'Mappings'), nsMap, scMap, imMap,
      h('h3', {}, 'Modifications'), cards,
      h('div', { class: 'row' },
        h('button', { type: 'button', onclick: () => addCard(patchCard()) }, 'Add patch'),
        h('button', { type: 'button', onclick: () => addCard(kvCard(backup, contents, 'ConfigMap')) }, 'Edit ConfigMap values'),
        h('button', { type: 'button', onclick: () => addCard(kvCard(backup, contents, 'Secret')) }, 'Edit Secret values'),
        h('button', { type: 'button', onclick: () => addCard(serviceCard(backup, contents)) }, 'Change Service type or ports')),
      h('h3', {}, 'Export'), exportBox,
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'preview', onclick: preview }, 'Preview diff'),
        h('button', { type: 'button', id: 'dry-run', onclick: () => run(true) }, 'Server dry run'),
        h('button', { type: 'button', id: 'run', class: 'primary', onclick: () => run(false) }, 'Restore')),
      results);
    refreshExport();
  }

  function restoreResult(r) {
    if (!r) return null;
    const items = r.items || [];
    return h('div', {},
      h('p', { id: 'result-summary' }, 'Phase ' + (r.phase || '?') + ': ' + Object.entries(r.counts || {}).map(([k, v]) => k + ' ' + (typeof v === 'object' ? JSON.stringify(v) : v)).join(', ')),
      items.length ? h('div', { class: 'scroll' }, h('table', { id: 'result-items' }, h('tr', {}, ['Result', 'Resource', 'Namespace', 'Name', 'Message'].map((t) => h('th', { scope: 'col' }, t))),
        items.map((i) => h('tr', {}, h('td', {}, i.outcome || ''), h('td', {}, i.resource || ''), h('td', {}, i.namespace || ''), h('td', {}, i.name || ''), h('td', {}, i.message || i.reason || (i.notes || []).join('; ')))))) : null);
  }

  // A run: progress from server-sent events, then the command's -o json document.
  function follow(job, box, title, render) {
    const bar = h('progress', { max: '1', value: '0', 'aria-label': title + ' progress' });
    const line = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Running: ' + job.command);
    const log = h('pre', { class: 'log', tabindex: '0', hidden: true });
    box.replaceChildren(h('h3', {}, title), bar, line, log);
    const es = new EventSource(job.events);
    es.addEventListener('progress', (ev) => {
      const p = JSON.parse(ev.data);
      if (p.itemsTotal) { bar.max = p.itemsTotal; bar.value = p.itemsDone; }
      line.textContent = p.phase + ': ' + p.itemsDone + (p.itemsTotal ? '/' + p.itemsTotal : '') + ' items' + (p.itemsPerSecond ? ', ' + p.itemsPerSecond + ' items/s' : '') + (p.etaSeconds ? ', ETA ' + p.etaSeconds + 's' : '');
    });
    es.addEventListener('log', (ev) => { log.hidden = false; log.append(JSON.parse(ev.data).error + '\n'); });
    es.addEventListener('result', (ev) => { const r = JSON.parse(ev.data); const el = render(r); if (el) box.append(el); });
    es.addEventListener('end', (ev) => {
      es.close();
      const e = JSON.parse(ev.data);
      bar.max = 1; bar.value = 1;
      line.textContent = 'Ran: ' + job.command;
      const ok = e.exitCode === 0;
      box.append(h('p', { id: 'run-status', class: ok ? 'ok' : 'error', role: 'status' }, ok ? title + ' finished.' : title + ' ended with exit status ' + e.exitCode + (e.exitCode === 2 ? ' (partially failed)' : '') + '.'));
      say(title + (ok ? ' finished' : ' failed'));
    });
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) return; };
  }

  // ---- restores and backing up ----------------------------------------------------------------------------------
  async function viewRestores() {
    show('restores', h('h2', {}, 'Restores'), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const list = await api('/api/restores');
      show('restores', h('h2', {}, 'Restores'), list.items.length ? h('div', { class: 'scroll' }, h('table', {},
        h('tr', {}, ['Name', 'Backup', 'Phase', 'Started', 'Counts'].map((t) => h('th', { scope: 'col' }, t))),
        list.items.map((r) => h('tr', {}, h('td', {}, h('button', { type: 'button', class: 'obj', 'aria-label': 'Open restore ' + r.name, onclick: () => viewRestore(r.name) }, r.name)), h('td', {}, r.backup), h('td', {}, r.phase), h('td', {}, age(r.startTimestamp)),
          h('td', {}, Object.entries(r.counts || {}).filter(([, v]) => typeof v === 'number').map(([k, v]) => k + ' ' + v).join(', ')))))) : h('p', {}, 'No restores recorded in this location.'));
    } catch (e) { show('restores', h('h2', {}, 'Restores'), errorBox(e)); }
  }

  async function viewRestore(name) {
    show('restores', h('h2', {}, 'Restore ' + name), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const r = await api('/api/restores/' + encodeURIComponent(name));
      const logBox = h('div', {});
      const lines = (w) => w ? [].concat(w.velero || [], w.cluster || [], ...Object.values(w.namespaces || {})) : [];
      show('restores', h('h2', {}, 'Restore ' + name),
        h('dl', { class: 'facts' }, [['Backup', r.backup], ['Phase', r.phase], ['Mode', r.mode], ['Started', r.startTimestamp], ['Completed', r.completionTimestamp],
          ['Target', (r.target && r.target.server) || '-']].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v || '-')])),
        h('p', {}, Object.entries(r.counts || {}).filter(([, v]) => typeof v === 'number').map(([k, v]) => k + ' ' + v).join(', ')),
        ['errors', 'warnings'].map((k) => { const l = lines(r.results && r.results[k]); return l.length ? h('details', { open: k === 'errors' }, h('summary', {}, k + ' (' + l.length + ')'), h('ul', {}, l.map((x) => h('li', {}, x)))) : null; }),
        r.spec ? h('details', {}, h('summary', {}, 'What was asked'), h('pre', { tabindex: '0' }, JSON.stringify(r.spec, null, 2))) : null,
        h('div', { class: 'row' }, h('button', { type: 'button', onclick: async () => {
          try { const l = await api('/api/restores/' + encodeURIComponent(name) + '/logs'); logBox.replaceChildren(h('h3', {}, 'Log'), h('pre', { tabindex: '0' }, (l.lines || []).join('\n'))); }
          catch (e) { logBox.replaceChildren(errorBox(e)); } } }, 'Log'), h('button', { type: 'button', onclick: viewRestores }, 'All restores')),
        logBox);
    } catch (e) { show('restores', h('h2', {}, 'Restore ' + name), errorBox(e)); }
  }

  function viewBackupNow() {
    const name = h('input', { type: 'text', required: true, placeholder: 'nightly-1' });
    const ns = listInput(), res = listInput(), sel = h('input', { type: 'text' }), ttl = h('input', { type: 'text', placeholder: '720h' });
    const box = h('section', { 'aria-label': 'Backup run' });
    const form = h('form', { onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const job = await api('/api/backups', { method: 'POST', body: { name: name.value.trim(), includeNamespaces: ns.value, includeResources: res.value, selector: sel.value.trim(), ttl: ttl.value.trim() } });
        follow(job, box, 'Backup', (r) => r ? h('p', {}, 'Phase ' + r.phase + ': ' + Object.entries(r.counts || {}).filter(([, v]) => typeof v === 'number').map(([k, v]) => k + ' ' + v).join(', ')) : null);
      } catch (e) { box.replaceChildren(errorBox(e)); }
    } }, h('div', { class: 'row' }, field('Name', name), field('Namespaces', ns, 'comma-separated; empty: all'), field('Resources', res), field('Label selector', sel), field('Time to live', ttl)),
      h('button', { type: 'submit', class: 'primary' }, 'Back up'));
    show('backup', h('h2', {}, 'Back up'), h('p', { class: 'muted' }, 'Runs kbk backup create with these options against the current kubeconfig context.'), form, box);
  }

  // ---- start ------------------------------------------------------------------------------------------------------
  const views = { backups: viewBackups, restore: () => viewCompose(), restores: viewRestores, backup: viewBackupNow };
  for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => views[b.dataset.view]());
  (async function start() {
    if (location.search.includes('token=')) history.replaceState(null, '', '/');  // the cookie holds it now
    try {
      const s = await api('/api/session');
      S.csrf = s.csrfToken; S.cluster = s.cluster;
      const sel = document.getElementById('location');
      for (const l of s.locations) sel.append(h('option', { value: l.index }, l.url));
      sel.addEventListener('change', () => { S.location = Number(sel.value); S.backups = []; views[S.view](); });
      viewBackups();
    } catch (e) { main.replaceChildren(h('h2', {}, 'kbk'), errorBox(e)); }
  })();
})();

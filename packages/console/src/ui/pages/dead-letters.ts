import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, type Meta, postAction } from '../api';
import { html } from '../html';

interface Letter {
  readonly id: string;
  readonly topic: string;
  readonly group: string;
  readonly key: string | null;
  readonly type: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly size: number;
  readonly body: { text: string } | { base64: string };
  readonly envelope: { data: unknown } | null;
  readonly decodeError: string | null;
  readonly failure: {
    readonly reason: string | null;
    readonly errorName: string | null;
    readonly errorMessage: string | null;
    readonly attempts: number | null;
    readonly firstFailureAt: string | null;
    readonly lastFailureAt: string | null;
    readonly originalPosition: string | null;
    readonly reduced: readonly string[];
  };
}
type Action = 'redrive' | 'purge';

const keyOf = (l: { topic: string; group: string; id: string }) => `${l.topic}\n${l.group}\n${l.id}`;

/** Dead letters: filter, read one, and (with actions on and the token) redrive or purge. */
export function DeadLettersPage({ meta }: { meta: Meta }) {
  const [pair, setPair] = useState('');
  const [type, setType] = useState('');
  const [reason, setReason] = useState('');
  const [since, setSince] = useState('');
  const [letters, setLetters] = useState<readonly Letter[] | undefined>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [open, setOpen] = useState<Letter | undefined>();
  const [token, setToken] = useState('');
  const [pending, setPending] = useState<Action | undefined>();
  const [status, setStatus] = useState<{ text: string; error: boolean } | undefined>();
  const dialog = useRef<HTMLDialogElement>(null);

  const chosen = pair === '' ? undefined : meta.pairs[Number(pair)];
  const load = async (after?: string) => {
    try {
      const page = await getJson<{ letters: Letter[]; cursor: string | null }>('dead-letters', {
        topic: chosen?.topic,
        group: chosen?.group,
        type,
        reason,
        // A datetime-local value is the browser's local time: sent as an instant.
        since: since === '' ? undefined : new Date(since).toISOString(),
        cursor: after,
      });
      setLetters(after === undefined ? page.letters : [...(letters ?? []), ...page.letters]);
      setCursor(page.cursor);
      if (after === undefined) setSelected(new Set());
    } catch (error) {
      setStatus({ text: (error as Error).message, error: true });
    }
  };
  useEffect(() => {
    if (meta.supports.deadLetters === true) void load();
  }, []);

  if (meta.supports.deadLetters !== true) {
    return html`<h1 id="page-heading" tabindex="-1">Dead letters</h1><p>This broker's adapter keeps no browsable dead letters: ${meta.supports.deadLetters}</p>`;
  }

  const toggle = (letter: Letter) => {
    const next = new Set(selected);
    if (next.has(keyOf(letter))) next.delete(keyOf(letter));
    else next.add(keyOf(letter));
    setSelected(next);
  };
  // The dialog opens with Cancel focused: Enter on a confirmation must not purge by default.
  const ask = (action: Action) => {
    setPending(action);
    dialog.current?.showModal();
  };
  const act = async () => {
    const action = pending!;
    dialog.current?.close();
    setPending(undefined);
    // One request per topic and group: that is what an operation applies to.
    const byPair = new Map<string, { topic: string; group: string; ids: string[] }>();
    for (const letter of letters ?? []) {
      if (!selected.has(keyOf(letter))) continue;
      const id = `${letter.topic}\n${letter.group}`;
      const entry = byPair.get(id) ?? { topic: letter.topic, group: letter.group, ids: [] };
      entry.ids.push(letter.id);
      byPair.set(id, entry);
    }
    try {
      let done = 0;
      for (const body of byPair.values()) {
        if (action === 'redrive') {
          const report = await postAction<{ redriven: number; refused: unknown[] }>(
            'dead-letters/redrive',
            token,
            body,
          );
          done += report.redriven;
        } else {
          done += (await postAction<{ deleted: number }>('dead-letters/purge', token, body)).deleted;
        }
      }
      setStatus({
        text: `${action === 'redrive' ? 'Redriven' : 'Purged'}: ${done} dead letter${done === 1 ? '' : 's'}.`,
        error: false,
      });
      setOpen(undefined);
      await load();
    } catch (error) {
      const text =
        error instanceof ApiError ? `Refused (${error.status}): ${error.message}` : (error as Error).message;
      setStatus({ text, error: true });
    }
  };

  return html`
    <h1 id="page-heading" tabindex="-1">Dead letters</h1>
    <form class="toolbar" aria-label="Filters" onSubmit=${(e: Event) => {
      e.preventDefault();
      void load();
    }}>
      <label for="dl-pair">Subscription</label>
      <select id="dl-pair" value=${pair} onChange=${(e: Event) => setPair((e.target as HTMLSelectElement).value)}>
        <option value="">All</option>
        ${meta.pairs.map((p, i) => html`<option value=${String(i)}>${p.group} on ${p.topic}</option>`)}
      </select>
      <label for="dl-type">Type</label>
      <input id="dl-type" value=${type} onInput=${(e: Event) => setType((e.target as HTMLInputElement).value)} />
      <label for="dl-reason">Reason contains</label>
      <input id="dl-reason" value=${reason} onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)} />
      <label for="dl-since">Failed since</label>
      <input
        id="dl-since"
        type="datetime-local"
        value=${since}
        onInput=${(e: Event) => setSince((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Apply</button>
    </form>
    ${
      meta.actions
        ? html`<form class="toolbar actions" aria-label="Actions" onSubmit=${(e: Event) => e.preventDefault()}>
            <label for="dl-token">Action token</label>
            <input id="dl-token" type="password" autocomplete="off" value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
            <button type="button" disabled=${selected.size === 0} onClick=${() => ask('redrive')}>Redrive selected (${selected.size})</button>
            <button type="button" class="danger" disabled=${selected.size === 0} onClick=${() => ask('purge')}>Purge selected (${selected.size})</button>
          </form>`
        : html`<p class="muted">Read-only: start the console with actions enabled to redrive or purge.</p>`
    }
    <p role="status" class=${status?.error === true ? 'error' : 'ok'} id="dl-status">${status?.text ?? ''}</p>
    ${letters?.length === 0 && html`<p>No dead letters match.</p>`}
    ${
      letters !== undefined &&
      letters.length > 0 &&
      html`<table class="letters">
        <caption>Dead letters, oldest first</caption>
        <thead><tr>${meta.actions && html`<th scope="col"><span class="visually-hidden">Select</span></th>`}<th scope="col">Id</th><th scope="col">Type</th><th scope="col">Group · topic</th><th scope="col">Reason</th><th scope="col">Attempts</th><th scope="col">Last failure</th></tr></thead>
        <tbody>
          ${letters.map(
            (l) => html`<tr data-id=${l.id} data-group=${l.group}>
              ${meta.actions && html`<td><input type="checkbox" aria-label=${`Select ${l.id}`} checked=${selected.has(keyOf(l))} onChange=${() => toggle(l)} /></td>`}
              <td><button type="button" class="link" onClick=${() => setOpen(l)}>${l.id}</button></td>
              <td><code>${l.type ?? '?'}</code></td>
              <td>${l.group} · <code>${l.topic}</code></td>
              <td class="reason">${l.failure.reason ?? '—'}</td>
              <td class="num">${l.failure.attempts ?? '?'}</td>
              <td>${l.failure.lastFailureAt ?? '—'}</td>
            </tr>`,
          )}
        </tbody>
      </table>`
    }
    ${cursor !== null && html`<button type="button" onClick=${() => void load(cursor)}>Load more</button>`}
    ${open !== undefined && html`<${Detail} letter=${open} onClose=${() => setOpen(undefined)} />`}
    <dialog ref=${dialog} aria-labelledby="confirm-title" onClose=${() => setPending(undefined)}>
      <h2 id="confirm-title">${pending === 'purge' ? 'Purge' : 'Redrive'} ${selected.size} dead letter${selected.size === 1 ? '' : 's'}?</h2>
      <p>${pending === 'purge' ? 'They are deleted for good.' : 'They are delivered again to the group that failed them, and removed from the dead letters.'}</p>
      <div class="toolbar">
        <button type="button" class=${pending === 'purge' ? 'danger' : ''} onClick=${() => void act()}>Yes, ${pending ?? ''}</button>
        <button type="button" autofocus onClick=${() => dialog.current?.close()}>Cancel</button>
      </div>
    </dialog>
  `;
}

function Detail({ letter, onClose }: { letter: Letter; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [letter]);
  const f = letter.failure;
  const data =
    letter.envelope !== null
      ? JSON.stringify(letter.envelope.data, null, 2)
      : 'text' in letter.body
        ? letter.body.text
        : `(binary, ${letter.size} bytes, base64) ${letter.body.base64}`;
  return html`<section class="detail" aria-labelledby="detail-title">
    <h2 id="detail-title" tabindex="-1" ref=${heading}>Dead letter <code>${letter.id}</code></h2>
    <dl class="facts">
      <dt>Reason</dt><dd class="reason">${f.reason ?? '—'}</dd>
      <dt>Error</dt><dd>${f.errorName ?? '—'}: ${f.errorMessage ?? ''}</dd>
      <dt>Attempts</dt><dd>${f.attempts ?? '?'}</dd>
      <dt>First failure</dt><dd>${f.firstFailureAt ?? '—'}</dd>
      <dt>Last failure</dt><dd>${f.lastFailureAt ?? '—'}</dd>
      <dt>Original position</dt><dd>${f.originalPosition ?? '—'}</dd>
      <dt>Key</dt><dd>${letter.key ?? '—'}</dd>
      ${f.reduced.length > 0 && html`<dt>Reduced</dt><dd>${f.reduced.join(', ')}</dd>`}
      ${letter.decodeError !== null && html`<dt>Decode error</dt><dd>${letter.decodeError}</dd>`}
    </dl>
    <h3>Data</h3>
    <pre tabindex="0" class="data">${data}</pre>
    <details><summary>Headers</summary><pre tabindex="0">${JSON.stringify(letter.headers, null, 2)}</pre></details>
    <button type="button" onClick=${onClose}>Close</button>
  </section>`;
}

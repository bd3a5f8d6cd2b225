import { useEffect, useState } from 'preact/hooks';
import { listen, type Meta } from '../api';
import { html } from '../html';

interface Received {
  readonly topic: string;
  readonly key: string | null;
  readonly position: string;
  readonly envelope: { id: string; type: string; time?: string; data: unknown; eventversion?: number } | null;
  readonly decodeError: string | null;
  readonly receivedAt: string;
}

const KEEP = 200;

/** The live events of one topic, newest first, read by a group of the console's own. */
export function TailPage({ meta }: { meta: Meta }) {
  const [topic, setTopic] = useState(meta.topics[0] ?? '');
  const [following, setFollowing] = useState(false);
  const [ready, setReady] = useState(false);
  const [records, setRecords] = useState<readonly Received[]>([]);
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    if (!following || topic === '') return;
    setReady(false);
    setProblem(undefined);
    const close = listen(`tail?topic=${encodeURIComponent(topic)}`, {
      ready: () => setReady(true),
      record: (data) => setRecords((before) => [data as Received, ...before].slice(0, KEEP)),
      problem: (data) => setProblem((data as { message: string }).message),
    });
    return () => {
      close();
      setReady(false);
    };
  }, [following, topic]);
  return html`
    <h1 id="page-heading" tabindex="-1">Tail</h1>
    <form class="toolbar" onSubmit=${(e: Event) => {
      e.preventDefault();
      setFollowing(!following);
    }}>
      <label for="tail-topic">Topic</label>
      <select id="tail-topic" value=${topic} disabled=${following} onChange=${(e: Event) => setTopic((e.target as HTMLSelectElement).value)}>
        ${meta.topics.map((t) => html`<option value=${t}>${t}</option>`)}
      </select>
      <button type="submit">${following ? 'Stop' : 'Follow'}</button>
      <button type="button" onClick=${() => setRecords([])}>Clear</button>
    </form>
    <p class="muted" role="status" data-ready=${ready ? 'yes' : 'no'}>
      ${following ? (ready ? `Following ${topic}: new events appear below.` : 'Connecting…') : 'Not following.'}
    </p>
    ${problem !== undefined && html`<p role="alert" class="error">${problem}</p>`}
    <ol class="tail" aria-label="Received events, newest first">
      ${records.map(
        (r) => html`<li class="record">
          <div class="record-head">
            <time>${r.envelope?.time ?? r.receivedAt}</time>
            ${r.envelope === null ? html`<strong class="error">unreadable</strong>` : html`<strong>${r.envelope.type}</strong>`}
            ${r.key !== null && html`<span>key <code>${r.key}</code></span>`}
            ${r.envelope !== null && html`<span class="muted">id ${r.envelope.id}</span>`}
          </div>
          <pre tabindex="0">${r.envelope === null ? r.decodeError : JSON.stringify(r.envelope.data)}</pre>
        </li>`,
      )}
    </ol>
  `;
}

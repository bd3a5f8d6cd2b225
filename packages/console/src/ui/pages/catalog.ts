import { useEffect, useState } from 'preact/hooks';
import { getJson } from '../api';
import { html } from '../html';

interface Entry {
  readonly type: string;
  readonly version: number;
  readonly description: string | null;
  readonly topic: string;
  readonly schemaSource: string;
  readonly schema: unknown;
  readonly opaqueReason: string | null;
  readonly example: unknown;
  readonly producers: readonly string[];
  readonly consumers: readonly string[];
}

const pretty = (value: unknown) => JSON.stringify(value, null, 2);

/** The contracts: version, topic, schema, an example payload, who publishes and who consumes. */
export function CatalogPage() {
  const [events, setEvents] = useState<readonly Entry[] | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    getJson<{ events: Entry[] }>('catalog').then(
      (body) => setEvents(body.events),
      (error: Error) => setProblem(error.message),
    );
  }, []);
  return html`
    <h1 id="page-heading" tabindex="-1">Event catalog</h1>
    ${problem !== undefined && html`<p role="alert" class="error">${problem}</p>`}
    ${events?.length === 0 && html`<p>No contracts are configured.</p>`}
    <div class="cards">
      ${events?.map(
        (event) => html`
          <article class="card" data-event=${event.type} aria-labelledby=${`event-${event.type}`}>
            <h2 id=${`event-${event.type}`}><code>${event.type}</code> <span class="version">v${event.version}</span></h2>
            ${event.description !== null && event.description !== undefined && html`<p>${event.description}</p>`}
            <dl class="facts">
              <dt>Topic</dt><dd><code>${event.topic}</code></dd>
              <dt>Published by</dt><dd>${event.producers.length === 0 ? '—' : event.producers.join(', ')}</dd>
              <dt>Consumed by</dt><dd class="consumers">${event.consumers.length === 0 ? '—' : event.consumers.join(', ')}</dd>
            </dl>
            <details open>
              <summary>Example payload</summary>
              <pre class="example" tabindex="0">${pretty(event.example)}</pre>
            </details>
            <details>
              <summary>Schema (${event.schemaSource})</summary>
              ${
                event.schema === null || event.schema === undefined
                  ? html`<p>No JSON Schema: ${event.opaqueReason}</p>`
                  : html`<pre tabindex="0">${pretty(event.schema)}</pre>`
              }
            </details>
          </article>
        `,
      )}
    </div>
  `;
}

import { useEffect, useState } from 'preact/hooks';
import { getJson } from '../api';
import { html } from '../html';

interface Flow {
  readonly producers: readonly string[];
  readonly topics: readonly string[];
  readonly groups: readonly string[];
  readonly publishes: readonly { readonly producer: string; readonly topic: string }[];
  readonly consumes: readonly { readonly topic: string; readonly group: string }[];
}

const COLUMN_X = [20, 320, 620];
const NODE_W = 220;
const NODE_H = 40;
const GAP = 24;
const TOP = 40;

/** The position of each node: three columns, each centred on the tallest. */
function layout(flow: Flow) {
  const columns = [flow.producers, flow.topics, flow.groups];
  const rows = Math.max(1, ...columns.map((c) => c.length));
  const height = TOP + rows * (NODE_H + GAP) + 10;
  const place = new Map<string, { x: number; y: number }>();
  for (const [column, names] of columns.entries()) {
    const offset = TOP + ((rows - names.length) * (NODE_H + GAP)) / 2;
    for (const [i, name] of names.entries()) {
      place.set(`${column}:${name}`, { x: COLUMN_X[column]!, y: offset + i * (NODE_H + GAP) });
    }
  }
  return { height, place };
}

function edge(from: { x: number; y: number }, to: { x: number; y: number }) {
  const x1 = from.x + NODE_W;
  const y1 = from.y + NODE_H / 2;
  const x2 = to.x;
  const y2 = to.y + NODE_H / 2;
  const mid = (x1 + x2) / 2;
  return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
}

/** Producers → topics → consumer groups, drawn as an SVG of our own layout, and listed as text. */
export function FlowPage() {
  const [flow, setFlow] = useState<Flow | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    getJson<Flow>('flow').then(setFlow, (error: Error) => setProblem(error.message));
  }, []);
  if (flow === undefined) {
    return html`<h1 id="page-heading" tabindex="-1">Flow</h1><p role="status">${problem ?? 'Loading…'}</p>`;
  }
  const { height, place } = layout(flow);
  const node = (column: number, name: string, kind: string) => {
    const at = place.get(`${column}:${name}`)!;
    // A long name keeps its end: a topic's last segments say the most (…shop.order.placed).
    const shown = name.length > 28 ? `…${name.slice(-27)}` : name;
    return html`<g class=${`node ${kind}`}>
      <rect x=${at.x} y=${at.y} width=${NODE_W} height=${NODE_H} rx="6" />
      <text x=${at.x + NODE_W / 2} y=${at.y + NODE_H / 2 + 5} text-anchor="middle">${shown}</text>
      <title>${name}</title>
    </g>`;
  };
  const summary = `${flow.producers.length} producers, ${flow.topics.length} topics, ${flow.groups.length} consumer groups`;
  return html`
    <h1 id="page-heading" tabindex="-1">Flow</h1>
    <figure class="flow">
      <svg viewBox=${`0 0 860 ${height}`} role="img" aria-label=${`Flow: ${summary}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
        </defs>
        <text class="column-title" x=${COLUMN_X[0]! + NODE_W / 2} y="20" text-anchor="middle">Producers</text>
        <text class="column-title" x=${COLUMN_X[1]! + NODE_W / 2} y="20" text-anchor="middle">Topics</text>
        <text class="column-title" x=${COLUMN_X[2]! + NODE_W / 2} y="20" text-anchor="middle">Consumer groups</text>
        ${flow.publishes.map(
          (e) =>
            html`<path class="edge" marker-end="url(#arrow)" d=${edge(place.get(`0:${e.producer}`)!, place.get(`1:${e.topic}`)!)} />`,
        )}
        ${flow.consumes.map(
          (e) =>
            html`<path class="edge" marker-end="url(#arrow)" d=${edge(place.get(`1:${e.topic}`)!, place.get(`2:${e.group}`)!)} />`,
        )}
        ${flow.producers.map((name) => node(0, name, 'producer'))}
        ${flow.topics.map((name) => node(1, name, 'topic'))}
        ${flow.groups.map((name) => node(2, name, 'group'))}
      </svg>
      <figcaption>${summary}</figcaption>
    </figure>
    <h2>As a list</h2>
    <ul class="flow-list">
      ${flow.topics.map(
        (topic) => html`<li>
          <code>${topic}</code>: published by ${
            flow.publishes
              .filter((e) => e.topic === topic)
              .map((e) => e.producer)
              .join(', ') || 'no declared producer'
          };
          consumed by ${
            flow.consumes
              .filter((e) => e.topic === topic)
              .map((e) => e.group)
              .join(', ') || 'no declared group'
          }
        </li>`,
      )}
    </ul>
  `;
}

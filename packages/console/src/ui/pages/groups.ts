import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { listen, type Meta } from '../api';
import { html } from '../html';

interface Group {
  readonly topic: string;
  readonly group: string;
  readonly lag: number | null;
  readonly pending: number | null;
  readonly members: number | null;
  readonly state: string;
}
type Points = readonly (readonly [number, number | null])[];
interface History {
  readonly series: readonly { readonly topic: string; readonly group: string; readonly points: Points }[];
}

const KEEP = 300;
const idOf = (g: { topic: string; group: string }) => `${g.topic}\n${g.group}`;

/** A small line chart of one group's lag (uPlot draws on a canvas: the table carries the figures). */
function LagChart({ points, label }: { points: Points; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    plot.current = new uPlot(
      {
        width: 320,
        height: 110,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1)] } },
        axes: [
          { stroke: '#333', size: 30 },
          { stroke: '#333', size: 40 },
        ],
        series: [{}, { label: 'lag', stroke: '#0b5cad', width: 2, fill: 'rgba(11,92,173,0.12)' }],
      },
      [[], []],
      box.current!,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData([points.map((p) => p[0]), points.map((p) => p[1])]);
  }, [points]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${`Lag of ${label} over time`}></div>`;
}

/** Every group of the application's topics: lag, pending, members, live, with a chart each. */
export function GroupsPage({ meta }: { meta: Meta }) {
  const [groups, setGroups] = useState<ReadonlyMap<string, Group>>(new Map());
  const [points, setPoints] = useState<ReadonlyMap<string, Points>>(new Map());
  const [problem, setProblem] = useState<string | undefined>();
  const [updated, setUpdated] = useState<string | undefined>();
  useEffect(() => {
    if (meta.supports.groups !== true) return;
    return listen('lag', {
      history: (data) => {
        const history = data as History;
        setPoints(new Map(history.series.map((s) => [idOf(s), s.points])));
      },
      sample: (data) => {
        const sample = data as { time: number; groups: Group[] };
        setProblem(undefined);
        setGroups(new Map(sample.groups.map((g) => [idOf(g), g])));
        setUpdated(new Date(sample.time * 1000).toLocaleTimeString());
        setPoints((before) => {
          const after = new Map(before);
          for (const g of sample.groups) {
            const series = [...(after.get(idOf(g)) ?? []), [sample.time, g.lag] as const];
            after.set(idOf(g), series.slice(-KEEP));
          }
          return after;
        });
      },
      problem: (data) => setProblem((data as { message: string }).message),
    });
  }, [meta]);
  if (meta.supports.groups !== true) {
    return html`<h1 id="page-heading" tabindex="-1">Groups</h1><p>This broker's adapter does not list groups: ${meta.supports.groups}</p>`;
  }
  const rows = [...groups.values()];
  return html`
    <h1 id="page-heading" tabindex="-1">Groups</h1>
    <p class="muted" aria-live="polite">${updated === undefined ? 'Reading lag…' : `Live; last reading at ${updated}`}</p>
    ${problem !== undefined && html`<p role="alert" class="error">${problem}</p>`}
    <table class="groups">
      <caption>Consumer groups of the application's topics, with their lag (records not yet settled)</caption>
      <thead><tr><th scope="col">Group</th><th scope="col">Topic</th><th scope="col">Lag</th><th scope="col">Pending</th><th scope="col">Members</th><th scope="col">State</th><th scope="col">Lag over time</th></tr></thead>
      <tbody>
        ${rows.map(
          (g) => html`<tr data-group=${g.group} data-topic=${g.topic}>
            <th scope="row">${g.group}</th>
            <td><code>${g.topic}</code></td>
            <td class="num lag">${g.lag ?? '?'}</td>
            <td class="num">${g.pending ?? '?'}</td>
            <td class="num">${g.members ?? '?'}</td>
            <td><span class=${`state ${g.state}`}>${g.state}</span></td>
            <td><${LagChart} points=${points.get(idOf(g)) ?? []} label=${`${g.group} on ${g.topic}`} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  `;
}

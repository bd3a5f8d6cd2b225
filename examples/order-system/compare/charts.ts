// The report's charts, as plain SVG written from the results: line panels by number of users, and
// bar panels by design. No chart library: the output must be byte-for-byte what a re-render
// makes, and a dozen lines of SVG per panel are easier to keep stable than a library's output.
import { allCpu } from './report-capacity';
import { DESIGN_TITLES, DESIGNS, type Results, type RunRecord, SCENARIOS } from './results';
import type { Design } from './system-under-test';

const COLORS: Readonly<Record<Design, string>> = { sync: '#d95f02', rpc: '#7570b3', events: '#1b78b4' };

const PANEL_W = 300;
const PANEL_H = 200;
const MARGIN = { left: 60, right: 20, top: 40, bottom: 45 };
const CELL_W = PANEL_W + MARGIN.left + MARGIN.right;
const CELL_H = PANEL_H + MARGIN.top + MARGIN.bottom;

function niceMax(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

/** One line of a line panel. */
interface Series {
  readonly design: Design;
  readonly dashed: boolean;
  readonly points: readonly (readonly [number, number])[];
}

/** Collects SVG elements, panel by panel. */
class Canvas {
  private readonly parts: string[] = [];

  text(x: number, y: number, content: string, attrs = ''): void {
    this.parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${content}</text>`);
  }

  push(element: string): void {
    this.parts.push(element);
  }

  // The frame, title, horizontal grid and y axis of a panel; returns the y scale.
  private frame(col: number, row: number, title: string, yLabel: string, maxY: number, note?: string) {
    const x0 = col * CELL_W + MARGIN.left;
    const y0 = row * CELL_H + MARGIN.top;
    const yOf = (y: number): number => y0 + PANEL_H - (y / maxY) * PANEL_H;
    this.push(`<rect x="${x0}" y="${y0}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#ccc"/>`);
    this.text(x0 + PANEL_W / 2, y0 - 12, title, 'text-anchor="middle" font-weight="bold"');
    if (note !== undefined)
      this.text(x0 + 8, y0 + 16, note, 'font-size="11" font-style="italic" fill="#555"');
    for (let t = 0; t <= 4; t++) {
      const y = (maxY * t) / 4;
      this.push(`<line x1="${x0}" x2="${x0 + PANEL_W}" y1="${yOf(y)}" y2="${yOf(y)}" stroke="#eee"/>`);
      this.text(
        x0 - 6,
        yOf(y) + 4,
        Number(y.toFixed(2)).toLocaleString('en-US'),
        'text-anchor="end" font-size="11"',
      );
    }
    this.text(
      x0 - 48,
      y0 + PANEL_H / 2,
      yLabel,
      `transform="rotate(-90 ${x0 - 48} ${y0 + PANEL_H / 2})" text-anchor="middle" font-size="11"`,
    );
    return { x0, y0, yOf };
  }

  /** A panel of lines over the levels (numbers of users), evenly spaced. */
  lines(
    col: number,
    row: number,
    title: string,
    levels: readonly number[],
    series: readonly Series[],
    yLabel: string,
    note?: string,
  ): void {
    const maxY = niceMax(
      Math.max(1, ...series.flatMap((s) => s.points.map(([, y]) => (Number.isNaN(y) ? 0 : y)))),
    );
    const { x0, y0, yOf } = this.frame(col, row, title, yLabel, maxY, note);
    const xOf = (i: number): number =>
      x0 + (levels.length === 1 ? PANEL_W / 2 : (i / (levels.length - 1)) * PANEL_W);
    levels.forEach((users, i) => {
      this.text(xOf(i), y0 + PANEL_H + 16, String(users), 'text-anchor="middle" font-size="11"');
    });
    this.text(x0 + PANEL_W / 2, y0 + PANEL_H + 34, 'users', 'text-anchor="middle" font-size="11"');
    for (const s of series) {
      const pts = s.points
        .filter(([, y]) => !Number.isNaN(y))
        .map(([users, y]) => `${xOf(levels.indexOf(users)).toFixed(1)},${yOf(y).toFixed(1)}`);
      if (pts.length === 0) continue;
      this.push(
        `<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[s.design]}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      );
      for (const p of pts) {
        const [cx, cy] = p.split(',');
        this.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${COLORS[s.design]}"/>`);
      }
    }
  }

  /** A panel of one bar per design, labelled with its value. */
  bars(
    col: number,
    row: number,
    title: string,
    values: readonly (readonly [Design, number | undefined])[],
    yLabel: string,
    format: (value: number) => string,
  ): void {
    // Headroom above the tallest bar for its label.
    const maxY = niceMax(Math.max(1, ...values.map(([, v]) => (v ?? 0) * 1.1)));
    const { x0, y0, yOf } = this.frame(col, row, title, yLabel, maxY);
    const slot = PANEL_W / values.length;
    values.forEach(([design, value], i) => {
      const x = x0 + i * slot + slot * 0.2;
      const w = slot * 0.6;
      this.text(x + w / 2, y0 + PANEL_H + 16, DESIGN_TITLES[design], 'text-anchor="middle" font-size="11"');
      if (value === undefined || Number.isNaN(value)) return;
      const top = yOf(value);
      this.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${w.toFixed(1)}" height="${(y0 + PANEL_H - top).toFixed(1)}" fill="${COLORS[design]}"/>`,
      );
      this.text(x + w / 2, top - 4, format(value), 'text-anchor="middle" font-size="11"');
    });
  }

  legend(y: number, designs: readonly Design[], labels: Readonly<Partial<Record<Design, string>>>): void {
    let x = 20;
    for (const design of designs) {
      this.push(`<rect x="${x}" y="${y - 10}" width="14" height="4" fill="${COLORS[design]}"/>`);
      const label = labels[design] ?? DESIGN_TITLES[design];
      this.text(x + 20, y - 4, label, 'font-size="12"');
      x += 40 + label.length * 7.5;
    }
  }

  svg(width: number, height: number, title: string): string {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<title>${title}</title>
<rect width="100%" height="100%" fill="white"/>
${this.parts.join('\n')}
</svg>
`;
  }
}

/** The latency experiment: p50/p99 latency (top) and successful orders per second (bottom). */
export function renderLatencySvg(records: readonly RunRecord[]): string {
  const canvas = new Canvas();
  const levels = [...new Set(records.map((r) => r.users))].sort((a, b) => a - b);
  SCENARIOS.forEach((scenario, col) => {
    const of = (system: 'sync' | 'events') =>
      records
        .filter((r) => r.scenario === scenario.id && r.system === system)
        .sort((a, b) => a.users - b.users);
    canvas.lines(
      col,
      0,
      `${scenario.title}: latency`,
      levels,
      (['sync', 'events'] as const).flatMap((design) => [
        { design, dashed: false, points: of(design).map((r): [number, number] => [r.users, r.p50Ms]) },
        { design, dashed: true, points: of(design).map((r): [number, number] => [r.users, r.p99Ms]) },
      ]),
      'ms (p50 solid, p99 dashed)',
      'note' in scenario ? scenario.note : undefined,
    );
    canvas.lines(
      col,
      1,
      `${scenario.title}: throughput`,
      levels,
      (['sync', 'events'] as const).map((design) => ({
        design,
        dashed: false,
        points: of(design).map((r): [number, number] => [r.users, r.okPerSecond]),
      })),
      'successful orders / s',
    );
  });
  const height = 2 * CELL_H + 30;
  canvas.legend(height - 10, ['sync', 'events'], {
    events: 'Tidings (payment + inventory on the request path, the rest as events)',
  });
  return canvas.svg(
    SCENARIOS.length * CELL_W,
    height,
    'Sync chain and Tidings: p50 and p99 latency of POST /orders and successful orders per second, by number of users, with email at 400 ms, at 3 s, and down',
  );
}

/** The capacity experiment: throughput, latency and what waits for email, by number of users. */
export function renderCapacitySvg(results: Results): string {
  const records = results.capacity ?? [];
  const canvas = new Canvas();
  const levels = [...new Set(records.map((r) => r.users))].sort((a, b) => a - b);
  const of = (design: Design) => records.filter((r) => r.design === design).sort((a, b) => a.users - b.users);
  canvas.lines(
    0,
    0,
    'throughput',
    levels,
    DESIGNS.map((design) => ({
      design,
      dashed: false,
      points: of(design).map((r): [number, number] => [r.users, r.okPerSecond]),
    })),
    'successful orders / s',
  );
  canvas.lines(
    1,
    0,
    'latency',
    levels,
    DESIGNS.flatMap((design) => [
      { design, dashed: false, points: of(design).map((r): [number, number] => [r.users, r.p50Ms]) },
      { design, dashed: true, points: of(design).map((r): [number, number] => [r.users, r.p99Ms]) },
    ]),
    'ms (p50 solid, p99 dashed)',
  );
  canvas.lines(
    2,
    0,
    'waiting for email',
    levels,
    DESIGNS.map((design) => ({
      design,
      dashed: false,
      points: of(design).map((r): [number, number] => [
        r.users,
        design === 'events' ? (r.emailBacklogAtEnd ?? 0) : r.services.email.peakWaiting,
      ]),
    })),
    'requests or events',
    'chain, queue: peak queue at email; Tidings: backlog',
  );
  const height = CELL_H + 30;
  canvas.legend(height - 10, DESIGNS, {});
  return canvas.svg(
    3 * CELL_W,
    height,
    'With capacity-limited services: successful orders per second, p50 and p99 latency, and what waits for email, by number of users, for the sync chain, the command queue and Tidings',
  );
}

/** The three designs side by side: p99 with five services, failures with faults, CPU and connections. */
export function renderDesignsSvg(results: Results): string {
  const canvas = new Canvas();
  const faults = results.faults ?? [];
  const compute = results.compute ?? [];
  const peak = Math.max(0, ...compute.map((r) => r.ratePerSecond));
  const fault = (design: Design, schedule: 'healthy' | 'faults') =>
    faults.find((r) => r.design === design && r.schedule === schedule);
  const cost = (design: Design) => compute.find((r) => r.design === design && r.ratePerSecond === peak);
  canvas.bars(
    0,
    0,
    'p99, five services, healthy',
    DESIGNS.map((d) => [d, fault(d, 'healthy')?.p99Ms]),
    'ms',
    (v) => Math.round(v).toLocaleString('en-US'),
  );
  canvas.bars(
    1,
    0,
    'customer requests failed, with faults',
    DESIGNS.map((d) => {
      const r = fault(d, 'faults');
      return [d, r === undefined || r.offered === 0 ? undefined : ((r.errors + r.late) / r.offered) * 100];
    }),
    '% of requests',
    (v) => `${v.toFixed(1)} %`,
  );
  canvas.bars(
    2,
    0,
    `CPU per order at ${peak}/s, all processes`,
    DESIGNS.map((d) => {
      const r = cost(d);
      return [d, r === undefined || r.ok === 0 ? undefined : (allCpu(r) * 1000) / r.ok];
    }),
    'CPU ms per successful order',
    (v) => v.toFixed(1),
  );
  canvas.bars(
    3,
    0,
    `connections at peak, ${peak}/s`,
    DESIGNS.map((d) => {
      const s = cost(d)?.sockets;
      return [d, s === undefined ? undefined : s.inbound + s.downstream + s.broker + s.database + s.other];
    }),
    'open TCP connections',
    (v) => String(Math.round(v)),
  );
  return canvas.svg(
    4 * CELL_W,
    CELL_H,
    'The sync chain, the command queue and Tidings: p99 latency with five healthy services, share of customer requests failed under the fault schedule, CPU milliseconds per successful order, and open connections at the peak',
  );
}

/** Every chart of the report, by file name. */
export function renderCharts(results: Results): Readonly<Record<string, string>> {
  return {
    'sync-vs-events.svg': renderLatencySvg(results.records),
    'sync-vs-events-capacity.svg': renderCapacitySvg(results),
    'sync-vs-events-designs.svg': renderDesignsSvg(results),
  };
}

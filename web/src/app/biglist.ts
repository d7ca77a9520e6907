// The biglist console: start a load, watch its progress and values per second while it runs, then read the
// list a page at a time in either order and download the export.
import {
  CategoryScale,
  Chart,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

import { api, download, seg } from './api.js';
import { byId, el, guarded, showProblem } from './dom.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip);

interface LoadStatus {
  loadId: string;
  state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  count: number;
  loaded: number;
  segments: { total: number; done: number };
  valuesPerSecond: number | null;
  error?: string;
}
interface Page {
  values: number[];
  nextCursor: string | null;
}

const POLL_MS = 250;
// Above this the export is better fetched with curl than held in the browser's memory.
const EXPORT_IN_PAGE_MAX = 5_000_000;
const ENDED = new Set(['completed', 'failed', 'cancelled']);
const fmt = new Intl.NumberFormat('en-US');

const state = {
  loadId: null as string | null,
  startedAt: 0,
  // Cursors of the pages before the one shown; the last entry is the current page's.
  cursors: [] as (string | undefined)[],
  next: null as string | null,
  count: null as number | null,
};
let chart: Chart<'line', number[], string> | undefined;

function resetChart(): Chart<'line', number[], string> {
  chart?.destroy();
  chart = new Chart(byId('load-chart', HTMLCanvasElement), {
    type: 'line',
    data: {
      labels: [],
      datasets: [
        { label: 'values/s since the load started', data: [], borderColor: '#0b5cad', pointRadius: 2 },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { title: { display: true, text: 'seconds' } },
        y: { beginAtZero: true, title: { display: true, text: 'values per second' } },
      },
    },
  });
  return chart;
}

function showStatus(s: LoadStatus): void {
  const percent = s.count ? Math.floor((s.loaded / s.count) * 100) : 0;
  byId('load-progress', HTMLProgressElement).value = percent;
  byId('load-percent', HTMLOutputElement).value = `${percent}%`;
  const rate = s.valuesPerSecond === null ? '' : `, ${fmt.format(Math.round(s.valuesPerSecond))} values/s`;
  byId('load-state', HTMLElement).textContent =
    `Load ${s.loadId}: ${s.state}, ${fmt.format(s.loaded)} of ${fmt.format(s.count)} values, ` +
    `${s.segments.done}/${s.segments.total} segments${rate}${s.error ? ` (${s.error})` : ''}.`;
  byId('load-cancel', HTMLButtonElement).disabled = ENDED.has(s.state);
  // The chart plots the same rate the text gives, the API's (values loaded over the time since the load's
  // first segment started), so the two can never disagree.
  if (chart && s.valuesPerSecond !== null) {
    chart.data.labels?.push(((performance.now() - state.startedAt) / 1000).toFixed(1));
    chart.data.datasets[0]?.data.push(Math.round(s.valuesPerSecond));
    chart.update();
    // The value last plotted, readable without the chart library (the page's tests compare it with the text).
    byId('load-chart', HTMLCanvasElement).dataset.last = String(Math.round(s.valuesPerSecond));
  }
}

async function poll(loadId: string): Promise<void> {
  while (state.loadId === loadId) {
    const { body } = await api<LoadStatus>('GET', `biglist/loads/${seg(loadId)}`);
    showStatus(body);
    if (ENDED.has(body.state)) {
      if (body.state === 'completed') {
        state.count = body.count;
        await firstPage();
      }
      return;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function startLoad(count: number, segmentSize: number | undefined): Promise<void> {
  const input = segmentSize ? { count, segmentSize } : { count };
  const { body } = await api<{ loadId: string }>('POST', 'biglist/loads', { body: input });
  state.loadId = body.loadId;
  state.startedAt = performance.now();
  resetChart();
  await poll(body.loadId);
}

async function showPage(cursor: string | undefined): Promise<void> {
  const order = byId('page-order', HTMLSelectElement).value;
  const limit = byId('page-limit', HTMLInputElement).value;
  const query = new URLSearchParams({ order, limit });
  if (cursor) query.set('cursor', cursor);
  const { body } = await api<Page>('GET', `biglist?${query.toString()}`);
  state.next = body.nextCursor;
  byId('values', HTMLOListElement).replaceChildren(...body.values.map((v) => el('li', String(v))));
  byId('page-prev', HTMLButtonElement).disabled = state.cursors.length <= 1;
  byId('page-next', HTMLButtonElement).disabled = body.nextCursor === null;
}

async function firstPage(): Promise<void> {
  state.cursors = [undefined];
  await showPage(undefined);
}

async function exportList(): Promise<void> {
  const order = byId('page-order', HTMLSelectElement).value;
  const note = byId('export-state', HTMLElement);
  if (state.count !== null && state.count > EXPORT_IN_PAGE_MAX) {
    note.textContent = `${fmt.format(state.count)} values: download it with curl -H "x-functions-key: …" ${new URL(`biglist/export?order=${order}`, document.baseURI).href}`;
    return;
  }
  note.textContent = 'Downloading…';
  const blob = await download(`biglist/export?order=${order}`);
  const link = el('a', '', { href: URL.createObjectURL(blob), download: `biglist-${order}.txt` });
  link.click();
  URL.revokeObjectURL(link.href);
  note.textContent = `Saved biglist-${order}.txt (${fmt.format(blob.size)} bytes).`;
}

/** Wires the biglist section. */
export function startBiglist(): void {
  byId('load-form', HTMLFormElement).addEventListener('submit', (e) => {
    e.preventDefault();
    const count = Number(byId('load-count', HTMLInputElement).value);
    const segment = byId('load-segment', HTMLInputElement).value;
    guarded(() => startLoad(count, segment ? Number(segment) : undefined))();
  });
  byId('load-cancel', HTMLButtonElement).addEventListener(
    'click',
    guarded(async () => {
      if (!state.loadId) return;
      const { body } = await api<LoadStatus>('DELETE', `biglist/loads/${seg(state.loadId)}`);
      showStatus(body);
    }),
  );
  byId('page-form', HTMLFormElement).addEventListener('submit', (e) => {
    e.preventDefault();
    guarded(firstPage)();
  });
  byId('page-next', HTMLButtonElement).addEventListener(
    'click',
    guarded(async () => {
      if (state.next === null) return;
      state.cursors.push(state.next);
      await showPage(state.next);
    }),
  );
  byId('page-prev', HTMLButtonElement).addEventListener(
    'click',
    guarded(async () => {
      state.cursors.pop();
      await showPage(state.cursors.at(-1));
    }),
  );
  byId('export', HTMLButtonElement).addEventListener('click', () => {
    exportList().catch(showProblem);
  });
}

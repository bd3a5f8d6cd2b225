// The console's page: a header with the five pages, chosen by the URL's hash so that every page
// has an address, works with the back button and needs no server routes.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, type Meta } from './api';
import { html } from './html';
import { CatalogPage } from './pages/catalog';
import { DeadLettersPage } from './pages/dead-letters';
import { FlowPage } from './pages/flow';
import { GroupsPage } from './pages/groups';
import { TailPage } from './pages/tail';

const PAGES = [
  { id: 'catalog', label: 'Catalog' },
  { id: 'flow', label: 'Flow' },
  { id: 'groups', label: 'Groups' },
  { id: 'dead-letters', label: 'Dead letters' },
  { id: 'tail', label: 'Tail' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

function currentPage(): PageId {
  const id = location.hash.replace(/^#\/?/, '').split('?')[0];
  return PAGES.find((page) => page.id === id)?.id ?? 'catalog';
}

function App() {
  const [page, setPage] = useState<PageId>(currentPage());
  const [meta, setMeta] = useState<Meta | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    getJson<Meta>('meta').then(setMeta, (error: Error) => setProblem(error.message));
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    const label = PAGES.find((p) => p.id === page)?.label ?? '';
    document.title = `${label} · Tidings console`;
    // Moving focus to the new page's heading tells screen readers the page changed.
    document.getElementById('page-heading')?.focus();
  }, [page]);
  const body = () => {
    if (meta === undefined) return html`<p role="status">${problem ?? 'Loading…'}</p>`;
    switch (page) {
      case 'flow':
        return html`<${FlowPage} />`;
      case 'groups':
        return html`<${GroupsPage} meta=${meta} />`;
      case 'dead-letters':
        return html`<${DeadLettersPage} meta=${meta} />`;
      case 'tail':
        return html`<${TailPage} meta=${meta} />`;
      default:
        return html`<${CatalogPage} />`;
    }
  };
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header>
      <span class="brand">Tidings console</span>
      <nav aria-label="Pages">
        <ul>
          ${PAGES.map(
            (p) =>
              html`<li><a href=${`#/${p.id}`} aria-current=${p.id === page ? 'page' : undefined}>${p.label}</a></li>`,
          )}
        </ul>
      </nav>
      ${meta !== undefined && html`<span class=${meta.actions ? 'badge warn' : 'badge'}>${meta.actions ? 'Actions enabled' : 'Read-only'}</span>`}
    </header>
    <main id="main" tabindex="-1">${body()}</main>
  `;
}

render(html`<${App} />`, document.getElementById('app')!);

// The playground page: renders what /_playground/events sends (playground/page.ts). No framework, no build:
// every value goes into the page as text, never as HTML.

/** Rows kept on the page; older decisions drop off the bottom. */
const MAX_ROWS = 200;

const status = document.getElementById('status');
const total = document.getElementById('total');
const countsHead = document.querySelector('#counts thead tr');
const countsBody = document.querySelector('#counts tbody');
const noCounts = document.getElementById('no-counts');
const decisionsBody = document.querySelector('#decisions tbody');

function cell(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  element.textContent = text;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function setTotal(count) {
  total.textContent = String(count);
  total.dataset.total = String(count);
}

/** The counts table, rebuilt from the board (a handful of rows). */
function renderBoard(board) {
  const columns = [
    ...board.decisionKinds.map((kind) => ({ kind, label: kind, value: (row) => row.decisions[kind] })),
    { kind: 'wait_p50', label: 'wait p50 (ms)', value: (row) => row.wait.p50 },
    { kind: 'wait_p99', label: 'wait p99 (ms)', value: (row) => row.wait.p99 },
    ...board.incidentKinds.map((kind) => ({ kind, label: kind, value: (row) => row.incidents[kind] })),
  ];
  countsHead.replaceChildren(
    cell('th', 'scope'),
    cell('th', 'mode'),
    ...columns.map((c) => cell('th', c.label)),
  );
  countsBody.replaceChildren(
    ...board.rows.map((row) => {
      const tr = document.createElement('tr');
      tr.dataset.scope = row.scope;
      tr.dataset.mode = row.mode;
      tr.append(cell('th', row.scope), cell('td', row.mode));
      for (const column of columns) {
        const value = column.value(row);
        tr.append(
          cell('td', value === undefined ? '–' : String(value), {
            'data-kind': column.kind,
            'data-count': value === undefined ? '' : value,
          }),
        );
      }
      return tr;
    }),
  );
  noCounts.hidden = board.rows.length > 0;
}

function decisionRow(decision) {
  const tr = document.createElement('tr');
  tr.className = 'decision';
  tr.dataset.signal = decision.signal;
  tr.dataset.scope = decision.scope;
  tr.dataset.mode = decision.mode;
  if (decision.keyDigest !== undefined) tr.dataset.keyDigest = decision.keyDigest;
  const time = new Date(decision.at).toISOString().slice(11, 23);
  const key = decision.keyDigest === undefined ? '–' : `${decision.keyDigest.slice(0, 10)}…`;
  const detail = Object.entries(decision.detail)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  tr.append(
    cell('td', time),
    cell('td', decision.scope),
    cell('td', decision.mode),
    cell('td', decision.signal, { class: 'signal' }),
    cell('td', decision.org ?? '–'),
    cell('td', key, { class: 'key', title: decision.keyDigest ?? '' }),
    cell('td', decision.meaning),
    cell('td', detail),
  );
  return tr;
}

function addDecision(decision) {
  decisionsBody.prepend(decisionRow(decision));
  while (decisionsBody.rows.length > MAX_ROWS) decisionsBody.lastElementChild.remove();
}

const events = new EventSource('events');
events.addEventListener('error', () => {
  status.textContent = 'reconnecting…';
  status.dataset.state = 'reconnecting';
});
// On every (re)connect the server sends the whole state again, so nothing missed while away is lost.
events.addEventListener('snapshot', (message) => {
  const snapshot = JSON.parse(message.data);
  decisionsBody.replaceChildren();
  for (const decision of snapshot.decisions) addDecision(decision);
  renderBoard(snapshot.board);
  setTotal(snapshot.total);
  // Live only once the state is on the page, so whoever reads it then reads the server's counts.
  status.textContent = 'live';
  status.dataset.state = 'live';
});
events.addEventListener('decision', (message) => {
  const event = JSON.parse(message.data);
  addDecision(event.decision);
  renderBoard(event.board);
  setTotal(event.total);
});

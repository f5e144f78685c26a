/**
 * The browser test's driver: JupyterLab in headless Chromium, used as a person would.
 *
 * Opens JupyterLab at --url (a running server, token in the URL), clicks the "Born (Rust)"
 * tile in the launcher's Notebook section, waits for the new notebook's kernel to be idle,
 * types a cell that shows a tensor and a figure into the first cell, runs it with
 * Shift+Enter, and checks that the page then holds the tensor's HTML table and the figure's
 * image (an <img> that decoded). A screenshot of the page is written to --screenshot, pass
 * or fail. This catches what the protocol tests cannot: the kernelspec as the launcher
 * shows it, and Born's mime bundles as JupyterLab renders them.
 *
 *   node new_notebook.mjs --url 'http://127.0.0.1:PORT/lab?token=TOKEN' --screenshot OUT.png
 *
 * Options: --chromium PATH (default $CHROMIUM or /usr/bin/chromium; no browser is
 * downloaded), --cell-timeout SECONDS (default 180: the first engine cell of a fresh kernel
 * takes 10-30 s on 2 cores). Exits 0 when every check passed, 1 with a "FAIL:" line naming
 * what was missing, 2 on bad arguments. Started by test_browser.py, which runs the server.
 */
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

// The cell typed into the notebook: a tensor shown with `show` (an HTML table) and a figure
// as the cell's result (Born sends it as image/svg+xml and image/png).
const CELL = [
  'let t = Tensor::arange(0.0, 6.0, 1.0, DType::F32).reshape([2, 3]);',
  'show(&t);',
  'Figure::new().title("browser test").line(&[0.0, 1.0, 2.0, 3.0], &[0.0, 1.0, 4.0, 9.0], "y = x^2")',
].join('\n');
// What the tensor's output must say: Born's header line, and the values 0..5 in the
// table's data cells (row and column numbers are header cells).
const TABLE_HEADER = 'Tensor shape=[2, 3] dtype=f32';
const TABLE_VALUES = ['0.', '1.', '2.', '3.', '4.', '5.'];
const KERNEL_NAME = 'Born (Rust)';

const USAGE = 'usage: node new_notebook.mjs --url URL --screenshot FILE.png [--chromium PATH] [--cell-timeout S]';
let opts;
try {
  opts = parseArgs({
    options: {
      url: { type: 'string' },
      screenshot: { type: 'string' },
      chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
      'cell-timeout': { type: 'string', default: '180' },
    },
  }).values;
} catch (e) {
  console.error(`${e.message}\n${USAGE}`);
  process.exit(2);
}
if (!opts.url || !opts.screenshot) {
  console.error(USAGE);
  process.exit(2);
}
const cellTimeoutMs = Number(opts['cell-timeout']) * 1000;

/** A failed check: its message is the test's verdict. */
class CheckFailed extends Error {}

const started = Date.now();
let lapStart = started;
/** Prints how long the step since the previous lap took, and the total so far. */
function lap(what) {
  const now = Date.now();
  console.log(`[browser] ${what}: ${((now - lapStart) / 1000).toFixed(1)} s (total ${((now - started) / 1000).toFixed(1)} s)`);
  lapStart = now;
}

/** Runs `wait` (a Playwright wait); on timeout, fails with `message()` (it may look at the page). */
async function expect(wait, message) {
  try {
    await wait;
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
    throw new CheckFailed(await message());
  }
}

/** The kernel status item of the status bar ("Born (Rust) | Idle"), or '' when there is none. */
async function kernelStatus(page) {
  const item = page.locator('.jp-StatusBar-TextItem', { hasText: ' | ' }).first();
  return (await item.count()) ? (await item.innerText()).trim() : '';
}

/** Waits until the status bar says the notebook's kernel is idle. */
async function waitKernelIdle(page, timeout, when) {
  const idle = page.locator('.jp-StatusBar-TextItem', { hasText: `${KERNEL_NAME} | Idle` });
  await expect(idle.waitFor({ timeout }),
    async () => `kernel never idle ${when} (waited ${timeout / 1000} s): the status bar says "${await kernelStatus(page) || 'nothing'}"`);
}

/** What the first cell shows now: its prompt, outputs (mime types, table, image) and text. */
function firstCellState(page) {
  return page.locator('.jp-NotebookPanel .jp-Cell').first().evaluate((cell) => {
    const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')];
    const table = cell.querySelector('.jp-OutputArea-output table');
    const tableOutput = table?.closest('.jp-OutputArea-output');
    const img = cell.querySelector('.jp-OutputArea-output img');
    return {
      prompt: (cell.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
      mimes: outputs.map((o) => o.getAttribute('data-mime-type') || '?'),
      table: table ? {
        mime: tableOutput.getAttribute('data-mime-type') || '?',
        text: tableOutput.textContent || '',
        values: [...table.querySelectorAll('td')].map((td) => td.textContent.trim()),
      } : null,
      image: img ? {
        mime: img.closest('.jp-OutputArea-output')?.getAttribute('data-mime-type') || '?',
        src: img.getAttribute('src')?.slice(0, 30) || '',
        width: img.naturalWidth,
        height: img.naturalHeight,
        complete: img.complete,
      } : null,
      text: outputs.map((o) => o.textContent || '').join('\n').slice(0, 2000),
    };
  });
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: opts.chromium,
    // --no-sandbox: Chromium's sandbox refuses to start as root (CI runs as root);
    // --disable-dev-shm-usage: containers often have a tiny /dev/shm.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
} catch (e) {
  console.log(`FAIL: could not start Chromium at ${opts.chromium}: ${e.message}`);
  process.exit(1);
}
lap(`Chromium ${browser.version()} started`);
let page;
let failure = null;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(opts.url);

  // The launcher's Notebook section has one tile per kernelspec.
  const tile = page.locator('.jp-Launcher-section', { hasText: 'Notebook' })
    .locator('.jp-LauncherCard[data-category="Notebook"]', { hasText: KERNEL_NAME });
  await expect(tile.waitFor({ timeout: 90_000 }), async () => {
    const tiles = await page.locator('.jp-LauncherCard[data-category="Notebook"]').allInnerTexts();
    return `no "${KERNEL_NAME}" tile in the launcher's Notebook section (tiles: ${JSON.stringify(tiles)})`;
  });
  lap('JupyterLab launcher shown');

  await tile.click();
  await page.locator('.jp-NotebookPanel').waitFor({ timeout: 60_000 });
  await waitKernelIdle(page, 120_000, 'after the notebook opened');
  lap('new notebook open, kernel idle');

  // Type the cell as a person would, then check the editor holds exactly that (an editor
  // that auto-closed brackets or indented lines would change the code).
  const editor = page.locator('.jp-NotebookPanel .jp-Cell').first().locator('.cm-content');
  await editor.click();
  await page.keyboard.type(CELL);
  const typed = (await editor.locator('.cm-line').allInnerTexts()).join('\n');
  if (typed !== CELL) throw new CheckFailed(`the cell holds\n${typed}\ninstead of what was typed:\n${CELL}`);
  lap('cell typed');

  await page.keyboard.press('Shift+Enter');
  // Done when the prompt shows an execution count ("[1]:"; "[*]:" while it runs).
  const deadline = Date.now() + cellTimeoutMs;
  let state = await firstCellState(page);
  while (!/^\[\d+\]/.test(state.prompt) && Date.now() < deadline) {
    await page.waitForTimeout(250);
    state = await firstCellState(page);
  }
  if (!/^\[\d+\]/.test(state.prompt)) {
    throw new CheckFailed(`the cell did not finish in ${cellTimeoutMs / 1000} s: prompt "${state.prompt}", `
      + `kernel status "${await kernelStatus(page)}", outputs so far ${JSON.stringify(state.mimes)}`);
  }
  await waitKernelIdle(page, 30_000, 'after the cell ran');
  lap(`cell ran (prompt ${state.prompt})`);

  // The checks. An image decodes after it is inserted: give it a moment.
  const seen = `outputs: ${JSON.stringify(state.mimes)}; text:\n${state.text}`;
  if (state.table === null) throw new CheckFailed(`no HTML table of the tensor in the cell's output (${seen})`);
  if (!state.table.text.includes(TABLE_HEADER)) {
    throw new CheckFailed(`the tensor's output lacks "${TABLE_HEADER}": it reads "${state.table.text}"`);
  }
  if (JSON.stringify(state.table.values) !== JSON.stringify(TABLE_VALUES)) {
    throw new CheckFailed(`the tensor's table holds ${JSON.stringify(state.table.values)}, not ${JSON.stringify(TABLE_VALUES)}`);
  }
  for (let i = 0; i < 40 && state.image && !(state.image.complete && state.image.width > 0); i++) {
    await page.waitForTimeout(250);
    state = await firstCellState(page);
  }
  if (state.image === null) throw new CheckFailed(`no image (<img>) of the figure in the cell's output (${seen})`);
  if (!state.image.mime.startsWith('image/')) {
    throw new CheckFailed(`the figure's <img> is not from an image output: ${JSON.stringify(state.image)}`);
  }
  if (!(state.image.width > 0)) throw new CheckFailed(`the figure's image did not decode: ${JSON.stringify(state.image)}`);
  console.log(`[browser] table: ${state.table.values.join(' ')} from ${state.table.mime}`);
  console.log(`[browser] image: ${state.image.width}x${state.image.height} from ${state.image.mime} (${state.image.src}...)`);
} catch (e) {
  failure = e;
} finally {
  if (page) {
    try {
      await page.screenshot({ path: opts.screenshot });
      console.log(`[browser] screenshot: ${opts.screenshot}`);
    } catch (e) {
      console.log(`[browser] no screenshot: ${e.message}`);
    }
  }
  await browser.close();
}
lap('done');
if (failure) {
  console.log(`FAIL: ${failure instanceof CheckFailed ? failure.message : failure.stack}`);
  process.exit(1);
}
console.log('[browser] ok: the new Born notebook shows the tensor as a table and the figure as an image');

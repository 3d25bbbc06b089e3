// bookwarehouse: restocks bookstores. Counts restock calls per bookstore
// identity (from the JSON body the bookstore sends), so both versions show.
//
// Env: PORT.

import { errorText, exitOnSignals, log, readBody, sendJson, serve } from './lib.mjs';

const c = {
  restocked: 0, // restock requests served
  booksShipped: 0,
  byStore: {},
};

async function handler(req, res, url) {
  if (url.pathname !== '/restock-books') return false;
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
  let order = {};
  try {
    const body = await readBody(req);
    order = body ? JSON.parse(body) : {};
  } catch (err) {
    return sendJson(res, 400, { error: `bad JSON: ${errorText(err)}` });
  }
  const store = String(order.identity ?? 'unknown');
  const books = Number.isInteger(order.books) && order.books > 0 ? order.books : 1;
  c.restocked++;
  c.booksShipped += books;
  c.byStore[store] = (c.byStore[store] ?? 0) + 1;
  if (c.restocked % 10 === 0) log(`served ${c.restocked} restock requests, ${c.booksShipped} books shipped`);
  return sendJson(res, 200, { restocked: books, for: store, total: c.restocked });
}

exitOnSignals();
serve({ title: 'bookwarehouse', getCounters: () => c, handler });

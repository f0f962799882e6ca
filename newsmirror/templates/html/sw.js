// newsmirror's service worker: offline copies of the pages a reader opened (and their images), and, when this
// host fails (no answer, a timeout, or a page that is not ours, such as a block page), the same path from the
// other mirrors of the signed mirror list. It never contacts a host that is not in that list.
"use strict";

const SETTINGS = __SETTINGS__;  // filled in by newsmirror: key, list, where the mirror root is, cache cap, labels
const FORMAT = "newsmirror-mirrors/1";
const MARKER = '<meta name="newsmirror"';  // every page of the HTML edition carries it; block pages do not
const CACHE = "newsmirror-offline";
const ROOT = new URL(SETTINGS.root, self.location).href;  // the mirror root this worker serves
const LIST_KEY = ROOT + "__newsmirror__/list";
const META_KEY = ROOT + "__newsmirror__/cached";
const CHECKED_KEY = ROOT + "__newsmirror__/checked";  // the last list fetched: from where, when, taken or not

function bytesOf(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// A list (bytes + minisign signature text) whose Ed25519 signature is ours, else null.
async function verified(bytes, signatureText) {
  if (!SETTINGS.key) return null;
  try {
    const raw = bytesOf(signatureText.split("\n")[1].trim());
    // "Ed" (a signature of the bytes themselves) + key id + signature
    if (raw.length !== 74 || raw[0] !== 0x45 || raw[1] !== 0x64) return null;
    if (!sameBytes(raw.slice(2, 10), bytesOf(SETTINGS.keyId))) return null;
    const key = await crypto.subtle.importKey("raw", bytesOf(SETTINGS.key), { name: "Ed25519" }, false, ["verify"]);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, raw.slice(10), bytes))) return null;
    const list = JSON.parse(new TextDecoder().decode(bytes));
    return list.format === FORMAT && Number.isInteger(list.sequence) ? list : null;
  } catch (error) {
    return null;
  }
}

let listPromise = null;

// The newest list that checks out: the one built into this worker or a newer one fetched since.
function currentList() {
  listPromise = listPromise || (async () => {
    const enc = new TextEncoder();
    let best = SETTINGS.list ? await verified(enc.encode(SETTINGS.list), SETTINGS.signature) : null;
    const kept = await (await caches.open(CACHE)).match(LIST_KEY);
    if (kept) {
      const { data, signature } = await kept.json();
      const list = await verified(enc.encode(data), signature);
      if (list && (!best || list.sequence > best.sequence)) best = list;
    }
    return best;
  })();
  return listPromise;
}

// Fetch the list published at `base` and keep it if its signature checks out and it is newer than ours.
async function refreshList(base) {
  const current = await currentList();
  if (!SETTINGS.key || (base !== ROOT && !mirrorsOf(current).includes(base))) return;
  try {
    const [data, signature] = await Promise.all(["mirrors.json", "mirrors.json.minisig"].map(async (name) => {
      const response = await timed(base + name, { mode: "cors", credentials: "omit", cache: "no-cache" });
      if (!response.ok) throw new Error(name);
      return response.text();
    }));
    const list = await verified(new TextEncoder().encode(data), signature);
    const taken = Boolean(list && (!current || list.sequence > current.sequence));
    const cache = await caches.open(CACHE);
    if (taken) {
      listPromise = Promise.resolve(list);
      await cache.put(LIST_KEY, new Response(JSON.stringify({ data, signature })));
    }
    const checked = { base, time: Date.now(), taken, signed: Boolean(list), sequence: list ? list.sequence : null };
    await cache.put(CHECKED_KEY, new Response(JSON.stringify(checked)));
  } catch (error) {
    // unreachable or not a list: keep the one we have
  }
}

function mirrorsOf(list) {
  return list && list.editions && Array.isArray(list.editions.html) ? list.editions.html : [];
}

function timed(url, options) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), SETTINGS.timeoutMs);
  return fetch(url, { ...options, signal: abort.signal }).finally(() => clearTimeout(timer));
}

// Ours: a successful answer that is what was asked for (an HTML page of this edition, or not an HTML page at all).
async function ours(response, page) {
  if (!response.ok) return false;
  const html = (response.headers.get("content-type") || "").includes("text/html");
  if (!page) return !html;
  return html && (await response.clone().text()).includes(MARKER);
}

// -- the offline copies, within SETTINGS.capBytes (the oldest go first) ----------------------------------------

let queue = Promise.resolve();

function keep(key, response) {
  queue = queue.then(async () => {
    const cache = await caches.open(CACHE);
    const blob = await response.blob();
    if (blob.size > SETTINGS.capBytes / 4) return;
    const metaResponse = await cache.match(META_KEY);
    const meta = metaResponse ? await metaResponse.json() : {};
    await cache.put(key, new Response(blob, { headers: response.headers }));
    meta[key] = { size: blob.size, time: Date.now() };
    let total = Object.values(meta).reduce((sum, entry) => sum + entry.size, 0);
    for (const [old] of Object.entries(meta).sort((a, b) => a[1].time - b[1].time)) {
      if (total <= SETTINGS.capBytes) break;
      if (old === key) continue;
      total -= meta[old].size;
      delete meta[old];
      await cache.delete(old);
    }
    await cache.put(META_KEY, new Response(JSON.stringify(meta)));
  }).catch(() => {});
  return queue;
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// A page from another mirror, with a notice saying where it came from.
async function servedFrom(response, base) {
  const host = new URL(base).host;
  const notice = `<p class="served-from" role="status" style="background:#ffd;padding:.4em;margin:0">` +
    `${escapeHtml(SETTINGS.servedFrom)} <a href="${escapeHtml(base)}">${escapeHtml(host)}</a></p>`;
  const text = (await response.text()).replace(/<body[^>]*>/, (tag) => tag + notice);
  return new Response(text, { status: 200, headers: { "content-type": "text/html; charset=utf-8" } });
}

async function answer(event, request, page) {
  const url = new URL(request.url);
  const key = url.origin + url.pathname;
  const path = key.slice(ROOT.length);
  let fallback = null;
  try {
    const response = await timed(request, page ? { redirect: "manual" } : {});
    if (response.type === "opaqueredirect") return response;
    if (await ours(response, page)) {
      event.waitUntil(keep(key, response.clone()));
      return response;
    }
    fallback = response;
  } catch (error) {
    // no answer or too slow: try the other mirrors
  }
  for (const base of mirrorsOf(await currentList())) {
    if (base === ROOT) continue;
    try {
      let response = await timed(base + path, { mode: "cors", credentials: "omit" });
      if (!(await ours(response, page))) continue;
      if (page) {
        response = await servedFrom(response, base);
        event.waitUntil(refreshList(base));
      }
      event.waitUntil(keep(key, response.clone()));
      return response;
    } catch (error) {
      // this mirror failed too: the next one
    }
  }
  const copy = await (await caches.open(CACHE)).match(key);
  return copy || fallback || Response.error();
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !request.url.startsWith(ROOT) || request.url.startsWith(ROOT + "__newsmirror__/")) {
    return;
  }
  const page = request.mode === "navigate";
  if (!page && request.destination !== "image") return;  // search indexes and the list: straight to the network
  event.respondWith(answer(event, request, page));
});

self.addEventListener("install", () => self.skipWaiting());

// Take over the open pages, keep a copy of them (they loaded before the worker), fetch the list this host publishes.
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    await self.clients.claim();
    const windows = await self.clients.matchAll({ type: "window" });
    for (const client of windows) {
      const url = new URL(client.url);
      if (!url.href.startsWith(ROOT)) continue;
      try {
        const response = await timed(url.href, {});
        if (!(await ours(response, true))) continue;
        const text = await response.clone().text();
        await keep(url.origin + url.pathname, response);
        for (const [, src] of text.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)) {  // and its images
          const image = new URL(src.replace(/&amp;/g, "&"), url);
          if (!image.href.startsWith(ROOT)) continue;
          const answer = await timed(image.href, {});
          if (await ours(answer, false)) await keep(image.origin + image.pathname, answer);
        }
      } catch (error) {
        // offline already: nothing (more) to keep
      }
    }
    await refreshList(ROOT);
  })());
});

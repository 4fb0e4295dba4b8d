// The offline till's service worker (served as /merchant/offline/sw.js, scope
// /merchant/offline): it keeps the page and its static files so the till opens with no
// network. Nothing else passes through it: the calls to the server go to the network, and
// the till's data lives in IndexedDB (see merchant-offline.js).
//
// The page is fetched from the network first, so online it is always current (and a
// logged-out till is sent to the login page); the kept copy answers only when the network
// fails. Static URLs carry a digest of their content, so a kept copy is never stale.
"use strict";

const CACHE = "fairshare-offline-till-v1"; // the same name as in merchant-offline.js
const PAGE = "/merchant/offline";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("fairshare-offline-till-") && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (url.pathname === PAGE && request.mode === "navigate") {
    event.respondWith(pageFirstFromNetwork(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFromCache(request));
  }
});

async function pageFirstFromNetwork(request) {
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic" && new URL(response.url).pathname === PAGE) {
      const cache = await caches.open(CACHE);
      await cache.put(PAGE, response.clone());
    }
    return response;
  } catch (error) {
    const kept = await caches.match(PAGE);
    if (kept) {
      return kept;
    }
    throw error;
  }
}

async function staticFromCache(request) {
  const kept = await caches.match(request);
  if (kept) {
    return kept;
  }
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

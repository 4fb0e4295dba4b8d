// The offline till (decision 0024): redeem with no network, within a signed allowance list,
// and sync the signed receipts later. A file of ours, so the CSP needs no inline script.
//
// Kept in IndexedDB, per browser profile: the device (its Ed25519 key pair from WebCrypto,
// the private key not extractable), the issuer trust list, the revoked cards, the allowance
// list, and every receipt with its verdict once synced. The page's texts come translated
// from the server in data attributes; nothing the till shows is written here in English.
//
// Formats match the server exactly (credentials/offline.py, credentials/card.py):
// receipts are signed over Python's json.dumps(sort_keys=True, separators=(",", ":")),
// which escapes non-ASCII; signed lists over the same with ensure_ascii=False; cards are
// Base45, zlib, COSE_Sign1 (EdDSA) over CWT claims with the Claim 169 identity map.
(function () {
  "use strict";

  const root = document.getElementById("offline-till");
  if (!root) {
    return;
  }
  const MESSAGES = JSON.parse(root.dataset.messages);
  const ASSETS = JSON.parse(root.dataset.assets);
  const ANCHOR = root.dataset.anchor;
  const TILL_USER = root.dataset.tillUser;
  const KINDS = JSON.parse(root.dataset.listKinds);
  const CACHE = "fairshare-offline-till-v1"; // the same name as in merchant-offline-sw.js
  const DATABASE = "fairshare-offline-till";
  const TRUST_LIST = "trust-list";
  const REVOCATION_LIST = "revocation-list";
  const SYNC_BATCH = 500;
  const MAX_CARD_TEXT = 1200;
  const MAX_INFLATED = 2048;
  const CLAIM_169 = 169;

  const $ = (id) => document.getElementById(id);
  let busy = false;
  let currentCard = null; // {claims, allowances} of the card being served

  function t(name, values) {
    const text = MESSAGES[name] || name;
    if (!values) {
      return text;
    }
    return text.replace(/%\((\w+)\)s/g, (whole, key) => (key in values ? String(values[key]) : whole));
  }

  // ---- bytes, Base64, canonical JSON --------------------------------------------------------

  function b64(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach((byte) => {
      text += String.fromCharCode(byte);
    });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function unb64(text) {
    const standard = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(standard + "=".repeat((4 - (standard.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function sortedJson(value) {
    if (Array.isArray(value)) {
      return "[" + value.map(sortedJson).join(",") + "]";
    }
    if (value !== null && typeof value === "object") {
      const keys = Object.keys(value).sort();
      return "{" + keys.map((k) => JSON.stringify(k) + ":" + sortedJson(value[k])).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  // Python's json.dumps escapes every non-ASCII character as \uXXXX unless ensure_ascii=False.
  function canonical(value, asciiOnly) {
    const text = sortedJson(value);
    if (!asciiOnly) {
      return new TextEncoder().encode(text);
    }
    const escaped = text.replace(
      /[\u0080-\uffff]/g,
      (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
    );
    return new TextEncoder().encode(escaped);
  }

  async function ed25519Verify(publicKey, signature, data) {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, [
      "verify",
    ]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, data);
  }

  // A trust or allowance list: JSON signed by the card root key, which the page pins.
  async function openSignedList(text, kind) {
    const document_ = JSON.parse(text);
    const signature = document_.signature;
    delete document_.signature;
    if (document_.kind !== kind || document_.anchor !== ANCHOR || typeof signature !== "string") {
      throw new Error("not a " + kind + " signed by the pinned root key");
    }
    const good = await ed25519Verify(unb64(ANCHOR), unb64(signature), canonical(document_, false));
    if (!good) {
      throw new Error("the signature of the " + kind + " does not match");
    }
    return document_;
  }

  // ---- the card: Base45, zlib, CBOR, COSE_Sign1 --------------------------------------------

  const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

  function base45Decode(text) {
    const values = Array.from(text, (c) => BASE45.indexOf(c));
    if (values.some((v) => v < 0)) {
      throw new Error("characters outside the Base45 alphabet");
    }
    if (values.length % 3 === 1) {
      throw new Error("a dangling character at the end");
    }
    const out = [];
    for (let i = 0; i < values.length; i += 3) {
      if (i + 2 < values.length) {
        const word = values[i] + values[i + 1] * 45 + values[i + 2] * 2025;
        if (word > 0xffff) {
          throw new Error("a group of three characters above 65535");
        }
        out.push(word >> 8, word & 0xff);
      } else {
        const last = values[i] + values[i + 1] * 45;
        if (last > 0xff) {
          throw new Error("a final pair above 255");
        }
        out.push(last);
      }
    }
    return new Uint8Array(out);
  }

  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    const reader = stream.getReader();
    const chunks = [];
    let length = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      length += value.length;
      if (length > MAX_INFLATED) {
        await reader.cancel();
        throw new Error("the data inflates beyond " + MAX_INFLATED + " bytes");
      }
      chunks.push(value);
    }
    const out = new Uint8Array(length);
    let offset = 0;
    chunks.forEach((chunk) => {
      out.set(chunk, offset);
      offset += chunk.length;
    });
    return out;
  }

  // Just enough CBOR (RFC 8949) for a card: integers, byte and text strings, arrays, maps
  // and tags, definite lengths only. Maps become Map objects (card claims have integer keys).
  function cborDecode(bytes) {
    let at = 0;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    function need(count) {
      if (at + count > bytes.length) {
        throw new Error("the CBOR data is cut short");
      }
    }
    function argument(info) {
      if (info < 24) {
        return info;
      }
      const sizes = { 24: 1, 25: 2, 26: 4, 27: 8 };
      const size = sizes[info];
      if (!size) {
        throw new Error("indefinite or reserved CBOR lengths are not used by cards");
      }
      need(size);
      let value;
      if (size === 1) value = view.getUint8(at);
      else if (size === 2) value = view.getUint16(at);
      else if (size === 4) value = view.getUint32(at);
      else {
        const big = view.getBigUint64(at);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new Error("a CBOR number too large");
        }
        value = Number(big);
      }
      at += size;
      return value;
    }
    function item(depth) {
      if (depth > 16) {
        throw new Error("the CBOR data nests too deeply");
      }
      need(1);
      const head = bytes[at++];
      const major = head >> 5;
      const value = argument(head & 0x1f);
      switch (major) {
        case 0:
          return value;
        case 1:
          return -1 - value;
        case 2:
          need(value);
          at += value;
          return bytes.slice(at - value, at);
        case 3:
          need(value);
          at += value;
          return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(at - value, at));
        case 4: {
          const list = [];
          for (let i = 0; i < value; i++) list.push(item(depth + 1));
          return list;
        }
        case 5: {
          const map = new Map();
          for (let i = 0; i < value; i++) {
            const key = item(depth + 1);
            map.set(key, item(depth + 1));
          }
          return map;
        }
        case 6:
          return { tag: value, value: item(depth + 1) };
        default:
          if (head === 0xf4) return false;
          if (head === 0xf5) return true;
          if (head === 0xf6) return null;
          throw new Error("a CBOR item cards do not use");
      }
    }
    const result = item(0);
    if (at !== bytes.length) {
      throw new Error("bytes after the CBOR item");
    }
    return result;
  }

  function byteStringHead(length) {
    if (length < 24) return [0x40 | length];
    if (length < 0x100) return [0x58, length];
    return [0x59, length >> 8, length & 0xff];
  }

  // The COSE Sig_structure of RFC 9052 section 4.4: ["Signature1", protected, h'', payload].
  function signatureInput(protectedBytes, payload) {
    const parts = [
      [0x84, 0x6a],
      Array.from(new TextEncoder().encode("Signature1")),
      byteStringHead(protectedBytes.length),
      Array.from(protectedBytes),
      [0x40],
      byteStringHead(payload.length),
      Array.from(payload),
    ];
    return new Uint8Array(parts.flat());
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The verdict on a typed card: {status, message, claims}. Never throws.
  async function checkCard(text, trustList, revoked, now) {
    try {
      if (!text) {
        return { status: "malformed", message: t("card_empty") };
      }
      if (text.length > MAX_CARD_TEXT) {
        throw new Error("the text is longer than " + MAX_CARD_TEXT + " characters");
      }
      let message = cborDecode(await inflate(base45Decode(text)));
      if (message && message.tag !== undefined) {
        if (message.tag !== 18) throw new Error("not a COSE_Sign1 message");
        message = message.value;
      }
      if (!Array.isArray(message) || message.length !== 4) {
        throw new Error("not a COSE_Sign1 message");
      }
      const [protectedBytes, , payload, signature] = message;
      const header = cborDecode(protectedBytes);
      if (!(header instanceof Map) || header.get(1) !== -8) {
        throw new Error("the card is not signed with EdDSA");
      }
      const kid = hex(header.get(4) || []);
      const key = trustList.keys.find((k) => k.kid === kid);
      if (!key || (key.retired_at !== null && key.retired_at <= now)) {
        return { status: "unknown_issuer", message: t("card_unknown_issuer") };
      }
      const good =
        signature instanceof Uint8Array &&
        signature.length === 64 &&
        (await ed25519Verify(
          unb64(key.public_key),
          signature,
          signatureInput(protectedBytes, payload),
        ));
      if (!good) {
        return { status: "bad_signature", message: t("card_bad_signature") };
      }
      const cwt = cborDecode(payload);
      const identity = cwt instanceof Map ? cwt.get(CLAIM_169) : null;
      if (!(identity instanceof Map) || typeof identity.get(1) !== "string") {
        throw new Error("the signed claims are not a Fairshare card");
      }
      const claims = {
        cardId: identity.get(1),
        name: String(identity.get(4) || ""),
        birthYear: String(identity.get(8) || "").slice(0, 4),
        expiresAt: cwt.get(4),
      };
      if (revoked.has(claims.cardId)) {
        return { status: "revoked", message: t("card_revoked"), claims: claims };
      }
      if (typeof claims.expiresAt !== "number" || now >= claims.expiresAt) {
        return { status: "expired", message: t("card_expired"), claims: claims };
      }
      return {
        status: "valid",
        message: t("card_valid", {
          card: printedCardId(claims.cardId),
          name: claims.name,
          year: claims.birthYear,
        }),
        claims: claims,
      };
    } catch (error) {
      return { status: "malformed", message: t("card_unreadable", { reason: error.message }) };
    }
  }

  function printedCardId(cardId) {
    return (cardId.match(/.{1,4}/g) || []).join("-");
  }

  // ---- amounts ------------------------------------------------------------------------------

  function toMinorUnits(asset, text) {
    const scale = ASSETS[asset].scale;
    const match = /^(\d{1,12})(?:[.,](\d+))?$/.exec(text.trim());
    if (!match || (match[2] || "").length > scale) {
      return null;
    }
    return Number(match[1]) * 10 ** scale + Number((match[2] || "").padEnd(scale, "0") || "0");
  }

  function formatAmount(asset, minor) {
    const definition = ASSETS[asset] || { scale: 0, unit: asset };
    const scale = definition.scale;
    const whole = Math.floor(minor / 10 ** scale);
    const part = scale ? "." + String(minor % 10 ** scale).padStart(scale, "0") : "";
    return whole + part + " " + definition.unit;
  }

  function moment(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  // ---- IndexedDB ----------------------------------------------------------------------------

  let opened = null;

  function database() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const request = indexedDB.open(DATABASE, 1);
        request.onupgradeneeded = () => {
          const db = request.result;
          db.createObjectStore("devices"); // by till username
          db.createObjectStore("lists"); // the trust list, and allowance lists by device id
          db.createObjectStore("receipts", { keyPath: "receipt.receipt_id" });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return opened;
  }

  // Runs `work(stores)` in one transaction; resolves with what it returns once committed.
  async function transaction(names, mode, work) {
    const db = await database();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(names, mode);
      const stores = Object.fromEntries(names.map((name) => [name, tx.objectStore(name)]));
      let result;
      Promise.resolve(work(stores, tx)).then((value) => {
        result = value;
      }, reject);
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("aborted"));
    });
  }

  function request(idbRequest) {
    return new Promise((resolve, reject) => {
      idbRequest.onsuccess = () => resolve(idbRequest.result);
      idbRequest.onerror = () => reject(idbRequest.error);
    });
  }

  const get = (store, key) => transaction([store], "readonly", (s) => request(s[store].get(key)));
  const put = (store, value, key) =>
    transaction([store], "readwrite", (s) => {
      s[store].put(value, key);
    });

  async function deviceReceipts(deviceId) {
    const all = await transaction(["receipts"], "readonly", (s) => request(s.receipts.getAll()));
    return all.filter((r) => r.receipt.device_id === deviceId);
  }

  // What the till has handed out against an allowance of the current list: what waits to
  // sync, and what was synced against this list (the server counts the same).
  function spentAgainst(receipts, listId, allowance) {
    return receipts
      .filter(
        (r) =>
          r.receipt.card_id === allowance.card_id &&
          r.receipt.programme === allowance.programme &&
          r.receipt.asset === allowance.asset &&
          (r.status === "pending" ||
            (r.list_id === listId && (r.status === "posted" || r.status === "double_spend"))),
      )
      .reduce((sum, r) => sum + r.receipt.amount, 0);
  }

  // ---- talking to the server ------------------------------------------------------------------

  class NeedsLogin extends Error {}

  async function post(path, fields) {
    const body = new URLSearchParams({ csrf_token: root.dataset.csrf, ...fields });
    let response;
    try {
      response = await fetch(path, { method: "POST", body: body, credentials: "same-origin" });
    } catch (error) {
      throw new Error(t("needs_network"));
    }
    const type = response.headers.get("content-type") || "";
    if (response.redirected || !type.includes("json")) {
      throw new NeedsLogin(t("login_again"));
    }
    const answer = await response.text();
    if (!response.ok) {
      const problem = JSON.parse(answer);
      throw new Error(problem.detail || problem.title);
    }
    return answer;
  }

  async function fetchTrustList() {
    const response = await fetch("/api/v1/cards/trust-list", { credentials: "omit" });
    if (!response.ok) {
      throw new Error(t("needs_network"));
    }
    const text = await response.text();
    await openSignedList(text, KINDS.trust);
    await put("lists", { text: text, fetched_at: Math.floor(Date.now() / 1000) }, TRUST_LIST);
  }

  async function fetchRevocations() {
    let response;
    try {
      response = await fetch("/merchant/offline/revocations", { credentials: "same-origin" });
    } catch (error) {
      throw new Error(t("needs_network"));
    }
    const type = response.headers.get("content-type") || "";
    if (response.redirected || !response.ok || !type.includes("json")) {
      throw new Error(t("login_again"));
    }
    const list = await openSignedList(await response.text(), KINDS.revocation);
    await put("lists", { revoked: list.revoked, issued_at: list.issued_at }, REVOCATION_LIST);
  }

  async function fetchAllowances(device) {
    const text = await post(`/merchant/offline/devices/${device.device_id}/allowances`, {});
    const list = await openSignedList(text, KINDS.allowance);
    if (list.device_id !== device.device_id) {
      throw new Error("the allowance list is for another device");
    }
    await put("lists", { list: list, fetched_at: Math.floor(Date.now() / 1000) }, device.device_id);
  }

  // ---- the page -----------------------------------------------------------------------------

  function say(id, text, isError) {
    const element = $(id);
    element.textContent = text || "";
    element.classList.toggle("offline-till__error", Boolean(isError));
  }

  function showConnection() {
    const online = navigator.onLine;
    const element = $("connection");
    element.textContent = online ? t("online") : t("offline");
    element.className = "connection no-print " + (online ? "connection--online" : "connection--offline");
  }

  async function currentDevice() {
    return get("devices", TILL_USER);
  }

  async function showDevice() {
    const device = await currentDevice();
    $("set-up").hidden = Boolean(device);
    $("download").hidden = !device;
    if (!device) {
      say("device-status", t("not_set_up"));
      return;
    }
    const stored = await get("lists", device.device_id);
    const lines = [t("device", { device: device.device_id })];
    if (stored) {
      const list = stored.list;
      lines.push(
        t("list_fetched", { fetched: moment(stored.fetched_at), until: moment(list.valid_until) }),
      );
      const cards = new Set(list.allowances.map((a) => a.card_id));
      lines.push(t("list_count", { count: list.allowances.length, cards: cards.size }));
      if (list.valid_until <= Date.now() / 1000) {
        lines.push(t("list_expired"));
      }
    }
    say("device-status", lines.join(" · "));
  }

  async function setUp() {
    if (busy) return;
    busy = true;
    say("device-message", t("setting_up"));
    try {
      if (!navigator.onLine) throw new Error(t("needs_network"));
      let pair;
      try {
        pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      } catch (error) {
        throw new Error(t("unsupported"));
      }
      const publicKey = b64(await crypto.subtle.exportKey("raw", pair.publicKey));
      const answer = JSON.parse(await post("/merchant/offline/devices", { public_key: publicKey }));
      const device = {
        device_id: answer.device_id,
        privateKey: pair.privateKey,
        publicKey: publicKey,
        registered_at: Math.floor(Date.now() / 1000),
      };
      await put("devices", device, TILL_USER);
      await fetchTrustList();
      await fetchRevocations();
      await fetchAllowances(device);
      say("device-message", t("set_up_done"));
    } catch (error) {
      say("device-message", error.message, true);
    } finally {
      busy = false;
      await showDevice();
    }
  }

  async function downloadAgain() {
    if (busy) return;
    const device = await currentDevice();
    if (!device) return;
    try {
      if (!navigator.onLine) throw new Error(t("needs_network"));
      // Receipts waiting to sync count against the new list: send them first.
      await sync();
      busy = true;
      await fetchTrustList();
      await fetchRevocations();
      await fetchAllowances(device);
      say("device-message", t("downloaded"));
    } catch (error) {
      say("device-message", error.message, true);
    } finally {
      busy = false;
      await showDevice();
    }
  }

  async function checkTypedCard(event) {
    event.preventDefault();
    currentCard = null;
    $("redeem-form").hidden = true;
    const result = $("card-result");
    result.replaceChildren();
    const device = await currentDevice();
    const trust = await get("lists", TRUST_LIST);
    const stored = device ? await get("lists", device.device_id) : null;
    if (!device || !trust || !stored) {
      result.append(paragraph(t("not_set_up"), true));
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const revocations = await get("lists", REVOCATION_LIST);
    const verdict = await checkCard(
      $("card-code").value.trim(),
      JSON.parse(trust.text),
      new Set(revocations ? revocations.revoked : []),
      now,
    );
    result.append(paragraph(verdict.message, verdict.status !== "valid"));
    if (verdict.status !== "valid") {
      $("card-code").focus();
      return;
    }
    if (stored.list.valid_until <= now) {
      result.append(paragraph(t("list_expired"), true));
      return;
    }
    const allowances = stored.list.allowances.filter((a) => a.card_id === verdict.claims.cardId);
    if (allowances.length === 0) {
      result.append(paragraph(t("no_allowance"), true));
      return;
    }
    currentCard = { claims: verdict.claims, allowances: allowances };
    await showChoices(device, stored.list);
    $("redeem-form").hidden = false;
    const first = $("allowance-choices").querySelector("input");
    (allowances.length === 1 ? $("amount") : first).focus();
  }

  async function showChoices(device, list) {
    const receipts = await deviceReceipts(device.device_id);
    const choices = $("allowance-choices");
    choices.replaceChildren();
    currentCard.allowances.forEach((allowance, index) => {
      const remaining = allowance.maximum - spentAgainst(receipts, list.list_id, allowance);
      const wrapper = document.createElement("div");
      wrapper.className = "field--checkbox offline-till__choice";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "allowance";
      input.id = "allowance-" + index;
      input.value = String(index);
      input.checked = currentCard.allowances.length === 1;
      const label = document.createElement("label");
      label.htmlFor = input.id;
      label.textContent = t("remaining", {
        programme: allowance.programme,
        remaining: formatAmount(allowance.asset, Math.max(remaining, 0)),
        maximum: formatAmount(allowance.asset, allowance.maximum),
      });
      wrapper.append(input, label);
      choices.append(wrapper);
    });
  }

  function paragraph(text, isError) {
    const p = document.createElement("p");
    p.textContent = text;
    p.className = isError ? "offline-till__error" : "notice";
    return p;
  }

  function amountError(text) {
    const error = $("amount-error");
    error.textContent = text || "";
    error.hidden = !text;
    $("amount-field").classList.toggle("field--error", Boolean(text));
    if (text) {
      $("amount").setAttribute("aria-invalid", "true");
      $("amount").focus();
    } else {
      $("amount").removeAttribute("aria-invalid");
    }
  }

  async function record(event) {
    event.preventDefault();
    if (busy || !currentCard) return;
    const chosen = $("allowance-choices").querySelector("input:checked");
    if (!chosen) {
      amountError(t("choose_allowance"));
      return;
    }
    const allowance = currentCard.allowances[Number(chosen.value)];
    const amount = toMinorUnits(allowance.asset, $("amount").value);
    if (amount === null) {
      amountError(t("amount_invalid"));
      return;
    }
    if (amount <= 0) {
      amountError(t("amount_positive"));
      return;
    }
    busy = true;
    try {
      const device = await currentDevice();
      const stored = await get("lists", device.device_id);
      const receipt = {
        receipt_id: crypto.randomUUID(),
        device_id: device.device_id,
        card_id: allowance.card_id,
        programme: allowance.programme,
        asset: allowance.asset,
        amount: amount,
        recorded_at: Math.floor(Date.now() / 1000),
      };
      const signature = b64(
        await crypto.subtle.sign({ name: "Ed25519" }, device.privateKey, canonical(receipt, true)),
      );
      // The allowance is checked again in the transaction that stores the receipt, so two
      // quick submissions cannot both pass.
      const remaining = await transaction(["receipts"], "readwrite", async (stores) => {
        const all = await request(stores.receipts.getAll());
        const mine = all.filter((r) => r.receipt.device_id === device.device_id);
        const left = allowance.maximum - spentAgainst(mine, stored.list.list_id, allowance);
        if (amount <= left) {
          stores.receipts.add({
            receipt: receipt,
            signature: signature,
            list_id: stored.list.list_id,
            status: "pending",
            reason: "",
            loss: 0,
          });
        }
        return left;
      });
      if (amount > remaining) {
        amountError(t("over_allowance", { remaining: formatAmount(allowance.asset, Math.max(remaining, 0)) }));
        return;
      }
      amountError("");
      $("amount").value = "";
      showReceipt(receipt);
      await showChoices(device, stored.list);
      await showReceipts();
    } finally {
      busy = false;
    }
  }

  function showReceipt(receipt) {
    $("receipt-amount").textContent = formatAmount(receipt.asset, receipt.amount);
    $("receipt-programme").textContent = receipt.programme;
    $("receipt-card").textContent = printedCardId(receipt.card_id);
    $("receipt-id").textContent = receipt.receipt_id;
    $("receipt-time").textContent = moment(receipt.recorded_at);
    const section = $("receipt");
    section.hidden = false;
    say(
      "sync-status",
      t("recorded", {
        amount: formatAmount(receipt.asset, receipt.amount),
        programme: receipt.programme,
      }),
    );
    $("receipt-title").focus();
  }

  function verdictText(stored) {
    if (stored.status === "pending") return t("pending");
    if (stored.status === "posted") return t("posted");
    if (stored.status === "double_spend") {
      return t("double_spend", { loss: formatAmount(stored.receipt.asset, stored.loss) });
    }
    const known = MESSAGES["outcome_" + stored.status];
    return t("refused", { reason: known || stored.reason || stored.status });
  }

  async function showReceipts() {
    const device = await currentDevice();
    const rows = $("receipt-rows");
    rows.replaceChildren();
    if (!device) return;
    const receipts = await deviceReceipts(device.device_id);
    receipts.sort((a, b) => b.receipt.recorded_at - a.receipt.recorded_at);
    receipts.forEach((stored) => {
      const row = document.createElement("tr");
      row.dataset.status = stored.status;
      const r = stored.receipt;
      [
        moment(r.recorded_at),
        printedCardId(r.card_id),
        r.programme,
        formatAmount(r.asset, r.amount),
        verdictText(stored),
      ].forEach((text) => {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      });
      rows.append(row);
    });
  }

  let syncing = null;

  // Sends what waits to sync, in batches; each receipt keeps its verdict, refused ones too.
  function sync() {
    if (!syncing) {
      syncing = syncPending().finally(() => {
        syncing = null;
      });
    }
    return syncing;
  }

  async function syncPending() {
    const device = await currentDevice();
    if (!device) return;
    const pending = (await deviceReceipts(device.device_id)).filter((r) => r.status === "pending");
    if (pending.length === 0) {
      say("sync-status", t("nothing_to_sync"));
      return;
    }
    say("sync-status", t("syncing", { count: pending.length }));
    let posted = 0;
    let refused = 0;
    try {
      for (let start = 0; start < pending.length; start += SYNC_BATCH) {
        const batch = pending.slice(start, start + SYNC_BATCH);
        const answer = JSON.parse(
          await post(`/merchant/offline/devices/${device.device_id}/receipts`, {
            receipts: JSON.stringify(
              batch.map((r) => ({ receipt: r.receipt, signature: r.signature })),
            ),
          }),
        );
        const verdicts = new Map(answer.receipts.map((v) => [v.receipt_id, v]));
        await transaction(["receipts"], "readwrite", (stores) => {
          batch.forEach((stored) => {
            const verdict = verdicts.get(stored.receipt.receipt_id);
            // "checked" means the server has it but has not posted it yet: send it again.
            if (!verdict || verdict.outcome === "checked") return;
            stored.status = verdict.outcome;
            stored.reason = verdict.reason;
            stored.loss = verdict.loss;
            stored.synced_at = Math.floor(Date.now() / 1000);
            stores.receipts.put(stored);
            if (verdict.outcome === "posted") posted += 1;
            else refused += 1;
          });
        });
      }
      say("sync-status", t("synced", { posted: posted, refused: refused }));
    } catch (error) {
      say("sync-status", error.message, true);
    } finally {
      await showReceipts();
    }
  }

  function offerScanner() {
    const scanner = window.FairshareScanner;
    const policy = document.featurePolicy;
    const allowed = !policy || policy.allowsFeature("camera");
    if (!scanner || !scanner.available() || !allowed) return;
    const button = $("scan");
    const video = $("scanner-video");
    button.hidden = false;
    button.addEventListener("click", () => {
      video.hidden = false;
      scanner
        .start(video, (code) => {
          video.hidden = true;
          $("card-code").value = code;
          $("card-form").requestSubmit();
        })
        .catch((error) => {
          video.hidden = true;
          $("card-result").replaceChildren(paragraph(error.message, true));
        });
    });
  }

  async function keepForOffline() {
    if (!navigator.onLine) return;
    const files = Array.from(
      document.querySelectorAll("script[src^='/static/'], link[rel='stylesheet'][href^='/static/']"),
      (element) => element.getAttribute("src") || element.getAttribute("href"),
    );
    const cache = await caches.open(CACHE);
    await cache.addAll([location.pathname, ...files]);
    // Files of earlier versions are no longer referenced by the page: drop them.
    const current = new Set(files.map((file) => new URL(file, location.href).href));
    const kept = await cache.keys();
    await Promise.all(
      kept
        .filter((r) => new URL(r.url).pathname.startsWith("/static/") && !current.has(r.url))
        .map((r) => cache.delete(r)),
    );
  }

  async function start() {
    showConnection();
    const supported =
      "serviceWorker" in navigator &&
      "indexedDB" in window &&
      "caches" in window &&
      window.crypto &&
      crypto.subtle &&
      "DecompressionStream" in window;
    if (!supported) {
      say("device-message", t("unsupported"), true);
      $("set-up").disabled = true;
      return;
    }
    window.addEventListener("online", () => {
      showConnection();
      sync();
    });
    window.addEventListener("offline", showConnection);
    $("set-up").addEventListener("click", setUp);
    $("download").addEventListener("click", downloadAgain);
    $("card-form").addEventListener("submit", checkTypedCard);
    $("redeem-form").addEventListener("submit", record);
    $("sync").addEventListener("click", () => {
      if (!navigator.onLine) {
        say("sync-status", t("needs_network"), true);
        return;
      }
      sync();
    });
    $("print").addEventListener("click", () => window.print());
    offerScanner();
    await showDevice();
    await showReceipts();
    try {
      await navigator.serviceWorker.register(root.dataset.worker, { scope: root.dataset.scope });
      await keepForOffline();
    } catch (error) {
      // The page still works online; it just will not open without the network.
      say("device-message", error.message, true);
    }
    root.dataset.ready = "true";
  }

  start();
})();

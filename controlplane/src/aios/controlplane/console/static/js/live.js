// The WebSocket client: one connection to /api/v1/ws for the whole console, reconnected
// with capped backoff (a fresh access token each time: the server closes with 1008 when the
// token expires). Pages subscribe to message types and unsubscribe when they leave.

import { accessToken, signedIn } from "./api.js";

const handlers = new Map();
const stateListeners = new Set();
let socket = null;
let attempt = 0;
let timer = null;
let stopped = true;
export let connected = false;

function setConnected(value) {
  connected = value;
  for (const fn of stateListeners) fn(value);
}

export function onLiveState(fn) { stateListeners.add(fn); fn(connected); return () => stateListeners.delete(fn); }

export function subscribe(type, fn) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(fn);
  return () => handlers.get(type).delete(fn);
}

async function open() {
  timer = null;
  if (stopped || !signedIn()) return;
  let token;
  try { token = await accessToken(); } catch (_) { schedule(); return; }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?token=${encodeURIComponent(token)}`);
  socket = ws;
  ws.onopen = () => { attempt = 0; setConnected(true); };
  ws.onmessage = (msg) => {
    let data;
    try { data = JSON.parse(msg.data); } catch (_) { return; }
    for (const fn of handlers.get(data.type) || []) fn(data);
    for (const fn of handlers.get("*") || []) fn(data);
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    setConnected(false);
    schedule();
  };
}

function schedule() {
  if (stopped || timer) return;
  const delay = Math.min(15_000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);
  attempt += 1;
  timer = setTimeout(open, delay);
}

export function startLive() {
  if (!stopped) return;
  stopped = false;
  attempt = 0;
  open();
}

export function stopLive() {
  stopped = true;
  if (timer) { clearTimeout(timer); timer = null; }
  if (socket) { socket.onclose = null; socket.close(); socket = null; }
  setConnected(false);
}

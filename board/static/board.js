// The kitchen board: one EventSource, a model {tickets, orders} from the snapshot and the
// events, each event applied once (by its id), the page drawn again from the model.
"use strict";

(() => {
  const R = window.BoardRender;
  const config = JSON.parse(document.body.dataset.config || "{}");
  const view = config.view || "all";
  const station = config.station || "";
  const recallWindow = Number(config.recall || 600);
  // The server's clock minus ours: timers count from the server's created_at.
  const skew = Number(config.now || Date.now() / 1000) - Date.now() / 1000;
  const now = () => Date.now() / 1000 + skew;
  const ORDER_FIELDS = ["status", "table", "dish", "station", "note", "rush", "course", "fire_at",
    "ticket", "addon", "attempt"];

  const model = { tickets: new Map(), orders: new Map() };
  let lastId = null;
  let source = null;
  let entry = "";  // the ticket number typed or touched on the pass
  let pendingVoid = null;
  let voidTimer = null;
  let drawQueued = false;
  let speedTimer = null;
  let chartsTimer = null;
  let messageTimer = null;

  // --- The model ----------------------------------------------------------------------------
  function idParts(id) {
    const match = /^(\d+)-(\d+)$/.exec(id || "");
    return match ? [Number(match[1]), Number(match[2])] : null;
  }

  function isNew(id) {
    const next = idParts(id);
    const seen = idParts(lastId);
    if (!next) return false;
    return !seen || next[0] > seen[0] || (next[0] === seen[0] && next[1] > seen[1]);
  }

  function applySnapshot(shot) {
    model.tickets.clear();
    model.orders.clear();
    for (const t of shot.tickets || []) model.tickets.set(t.ticket_id, { ...t, dishes: [...(t.dishes || [])] });
    for (const [id, o] of Object.entries(shot.orders || {})) model.orders.set(id, { ...o, order_id: id });
    for (const t of model.tickets.values()) {  // the snapshot says an order's ticket and table once
      for (const id of t.dishes) Object.assign(model.orders.get(id) || {}, { ticket: t.ticket_id, table: t.table });
    }
  }

  function attach(ticketId, orderId) {
    const ticket = model.tickets.get(ticketId);
    if (ticket && !ticket.dishes.includes(orderId)) ticket.dishes.push(orderId);
  }

  function applyOrder(event) {
    const order = model.orders.get(event.order_id) || { order_id: event.order_id, created_at: event.time };
    for (const name of ORDER_FIELDS) {
      if (event[name] !== undefined && event[name] !== null) order[name] = event[name];
    }
    order.reason = event.reason || "";
    order.updated_at = event.time;
    if (event.event === "progress") order.percent = event.percent;
    else if (event.event !== "preparing") delete order.percent;
    model.orders.set(order.order_id, order);
    if (order.ticket) attach(order.ticket, order.order_id);
  }

  function applyTicket(event) {
    const ticket = model.tickets.get(event.ticket_id) || { ticket_id: event.ticket_id, dishes: [] };
    ticket.number = event.number;
    ticket.table = event.table;
    ticket.status = event.status;
    if (event.created_at !== undefined) ticket.created_at = event.created_at;
    ticket.ready_at = event.ready_at ?? null;
    ticket.served_at = event.served_at ?? null;
    ticket.recalled_at = event.recalled_at ?? ticket.recalled_at ?? null;
    model.tickets.set(ticket.ticket_id, ticket);
    for (const order of model.orders.values()) {
      if (order.ticket === ticket.ticket_id) attach(ticket.ticket_id, order.order_id);
    }
  }

  // Served tickets past the recall window leave the model, and their orders with them.
  function prune() {
    const since = now() - recallWindow;
    for (const [id, t] of model.tickets) {
      if (t.status === "served" && (t.served_at || 0) < since) {
        for (const orderId of t.dishes) model.orders.delete(orderId);
        model.tickets.delete(id);
      }
    }
    for (const [id, o] of model.orders) {  // finished, and on no ticket shown
      if (R.FINAL.has(o.status) && !model.tickets.has(o.ticket)) model.orders.delete(id);
    }
  }

  // --- Drawing --------------------------------------------------------------------------------
  function ordersOf(ticket) {
    return ticket.dishes.map((id) => model.orders.get(id)).filter(Boolean);
  }

  function byAge(a, b) {
    return (a.created_at - b.created_at) || (a.number - b.number);
  }

  function draw() {
    drawQueued = false;
    if (view === "speed") return;
    prune();
    const ctx = { view, limits: config.limits || {}, now: now(), selected: entry, pendingVoid,
      onServe: serve, onRecall: recall, onFire: fire, onVoid: voidDish, onSelect: select };
    const unserved = [...model.tickets.values()].filter((t) => t.status !== "served").sort(byAge);
    const cards = [];
    let allDayOrders = [];
    if (view === "station") {
      const rows = [];
      for (const t of unserved) {
        const mine = ordersOf(t).filter((o) => o.station === station);
        if (!mine.length) continue;
        mine.sort((a, b) => Number(Boolean(b.rush)) - Number(Boolean(a.rush)));
        const open = mine.some((o) => !R.FINAL.has(o.status));
        const rush = mine.some((o) => o.rush && !R.FINAL.has(o.status));
        rows.push({ t, mine, rank: rush ? 0 : open ? 1 : 2 });
        allDayOrders = allDayOrders.concat(mine);
      }
      rows.sort((a, b) => a.rank - b.rank || byAge(a.t, b.t));
      for (const row of rows) cards.push(R.ticketCard(row.t, row.mine, ctx));
    } else {
      for (const t of unserved) {
        const orders = ordersOf(t);
        allDayOrders = allDayOrders.concat(orders);
        cards.push(R.ticketCard(t, orders, ctx));
      }
    }
    R.ticketList(document.getElementById("tickets"), cards, "No open tickets");
    R.allDay(document.getElementById("allday-list"), allDayOrders);
    const served = document.getElementById("served-list");
    if (served) {
      const recent = [...model.tickets.values()].filter((t) => t.status === "served")
        .sort((a, b) => b.served_at - a.served_at);
      R.servedList(served, recent, ctx);
    }
    document.body.dataset.lastEventId = lastId || "";
  }

  function redraw() {
    if (!drawQueued) setTimeout(draw, 0);
    drawQueued = true;
  }

  function tick() {
    const moment = now();
    for (const card of document.querySelectorAll(".ticket")) R.age(card, moment);
  }

  // --- Live -----------------------------------------------------------------------------------
  function connect() {
    const url = "/events" + (lastId ? "?last=" + encodeURIComponent(lastId) : "");
    source = new EventSource(url);
    source.onopen = () => R.setLive("live");
    source.onerror = () => {
      R.setLive("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, 1000);  // refused (Redis away): a new stream, from our last id
      }
    };
    source.addEventListener("snapshot", (event) => {
      applySnapshot(JSON.parse(event.data));
      lastId = event.lastEventId || "0-0";
      redraw();
      refreshSpeed(0);
    });
    for (const kind of ["order", "ticket"]) {
      source.addEventListener(kind, (event) => {
        if (!isNew(event.lastEventId)) return;  // seen already: never applied twice
        lastId = event.lastEventId;
        const data = JSON.parse(event.data);
        if (kind === "order") applyOrder(data);
        else applyTicket(data);
        redraw();
        if (kind === "ticket" || data.status === "ready") refreshSpeed(2000);
        if (view === "speed" && kind === "ticket") refreshCharts();
      });
    }
  }

  // --- Speed figures (restaurant/speed.py through /api/speed) ---------------------------------
  async function loadSpeed() {
    speedTimer = null;
    try {
      const answer = await fetch("/api/speed", { credentials: "same-origin" });
      if (!answer.ok) return;
      const body = await answer.json();
      R.speedStrip(document.getElementById("speed-strip"), body.stations, station);
    } catch (error) {
      // The live indicator already says when the board is out of reach.
    }
  }

  function refreshSpeed(delay) {
    if (speedTimer === null) speedTimer = setTimeout(loadSpeed, delay);
  }

  function refreshCharts() {
    if (chartsTimer !== null) return;
    chartsTimer = setTimeout(() => {
      chartsTimer = null;
      for (const img of document.querySelectorAll("img.chart")) {
        img.src = img.src.split("?")[0] + "?t=" + Date.now();
      }
    }, 2000);
  }

  // --- Actions: the same code as the waiter's commands, on the server --------------------------
  function say(text, isError) {
    const node = document.getElementById("message");
    node.textContent = text;
    node.className = "message " + (isError ? "error" : "ok");
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { node.textContent = ""; node.className = "message"; }, 8000);
  }

  async function post(url, done) {
    try {
      const answer = await fetch(url, { method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json" } });
      let body = {};
      try { body = await answer.json(); } catch (error) { body = {}; }
      if (!answer.ok) {
        say(body.error || `${answer.status} ${answer.statusText}`, true);
        return false;
      }
      say(done, false);
      return true;
    } catch (error) {
      say("the board cannot be reached: " + error.message, true);
      return false;
    }
  }

  async function serve(number) {
    if (await post(`/api/tickets/${encodeURIComponent(number)}/serve`, `Ticket ${number} served`)) select("");
  }

  async function recall(number) {
    if (await post(`/api/tickets/${encodeURIComponent(number)}/recall`, `Ticket ${number} recalled`)) select("");
  }

  function fire(table, course) {
    post(`/api/courses/${table}/${course}/fire`, `Course ${course} of table ${table} fired`);
  }

  // Voiding a dish asks first: the button turns into "Confirm void?" for a few seconds.
  function voidDish(order) {
    clearTimeout(voidTimer);
    if (pendingVoid === order.order_id) {
      pendingVoid = null;
      post(`/api/orders/${encodeURIComponent(order.order_id)}/cancel`,
        `${order.dish} for table ${order.table} voided`);
    } else {
      pendingVoid = order.order_id;
      voidTimer = setTimeout(() => { pendingVoid = null; redraw(); }, 5000);
    }
    redraw();
  }

  // --- The bump bar: digits pick a ticket, Enter serves, R recalls, Escape clears --------------
  function select(number) {
    entry = String(number);
    const shown = document.getElementById("entry-number");
    if (shown) shown.textContent = entry || "—";
    redraw();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[0-9]$/.test(event.key)) select((entry + event.key).slice(-6));
    else if (event.key === "Backspace") select(entry.slice(0, -1));
    else if (event.key === "Escape") select("");
    else if (event.key === "Enter") { if (entry) serve(entry); }
    else if (event.key === "r" || event.key === "R") { if (entry) recall(entry); }
    else return;
    event.preventDefault();
  }

  function wireEntry() {
    document.addEventListener("keydown", onKey);
    document.getElementById("serve-entry").addEventListener("click", () => { if (entry) serve(entry); });
    document.getElementById("recall-entry").addEventListener("click", () => { if (entry) recall(entry); });
    document.getElementById("clear-entry").addEventListener("click", () => select(""));
  }

  if (view === "pass") wireEntry();
  connect();
  setInterval(tick, 1000);
  setInterval(redraw, 5000);  // the recall list forgets what leaves its window
  if (view !== "speed") setInterval(() => refreshSpeed(0), 30000);
  if (view === "speed") setInterval(refreshCharts, 60000);
})();

// The kitchen board's drawing: tickets, dishes, all-day counts, built with DOM calls and
// textContent only (waiters' text is data, never HTML). board.js owns the model and calls in.
"use strict";

window.BoardRender = (() => {
  const FINAL = new Set(["ready", "failed", "cancelled"]);
  const DEFAULT_LIMITS = { warn: 5, late: 8 };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(label, className, onClick) {
    const node = el("button", "action " + className, label);
    node.type = "button";
    node.addEventListener("click", (event) => {
      event.stopPropagation();
      onClick();
    });
    return node;
  }

  function clock(seconds) {
    const when = new Date(seconds * 1000);
    return when.toTimeString().slice(0, 5);
  }

  // 75 s as 1:15, an hour and more as 1:02:03.
  function elapsed(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = String(whole % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  function dishStatus(order) {
    switch (order.status) {
      case "held":
        return order.fire_at ? `held until ${clock(order.fire_at)}` : `held: course ${order.course}`;
      case "pending": return "waiting";
      case "received": return "taken";
      case "preparing": return order.percent ? `cooking ${order.percent}%` : "cooking";
      case "retrying": return "trouble, retrying";
      case "ready": return "ready ✓";
      case "failed": return "FAILED ✗";
      case "cancelled": return "cancelled";
      default: return order.status || "?";
    }
  }

  // The strictest thresholds among these stations (minutes).
  function limitsFor(limits, stations) {
    let warn = Infinity;
    let late = Infinity;
    for (const name of stations) {
      const found = limits[name] || DEFAULT_LIMITS;
      warn = Math.min(warn, found.warn);
      late = Math.min(late, found.late);
    }
    return Number.isFinite(warn) ? { warn, late } : DEFAULT_LIMITS;
  }

  // Set a card's timer text and ageing class: colour, and words saying how late.
  function age(card, now) {
    const since = Number(card.dataset.since);
    const seconds = now - since;
    const timer = card.querySelector(".timer");
    const label = card.querySelector(".age-label");
    if (!timer || !label) return;
    timer.textContent = elapsed(seconds);
    let state = "fresh";
    let words = "";
    if (card.dataset.done !== "yes") {
      const late = Number(card.dataset.late) * 60;
      const warn = Number(card.dataset.warn) * 60;
      if (seconds >= late) {
        state = "late";
        words = `LATE +${elapsed(seconds - late)}`;
      } else if (seconds >= warn) {
        state = "warn";
        words = "running late";
      }
    }
    card.classList.remove("age-fresh", "age-warn", "age-late");
    card.classList.add("age-" + state);
    label.textContent = words;
  }

  function dishRow(order, ctx, addonShown) {
    const row = el("li", `dish status-${order.status || "unknown"}`);
    if (order.rush && !FINAL.has(order.status)) row.classList.add("rush");
    if (order.status === "held") row.classList.add("held");
    const name = el("span", "dish-name", order.dish || "?");
    row.append(name);
    if (order.rush) row.append(el("span", "badge rush-badge", "RUSH"));
    row.append(el("span", "dish-status", dishStatus(order)));
    if (ctx.view !== "station" && order.station) row.append(el("span", "dish-station", order.station));
    if (order.note) row.append(el("span", "note", order.note));
    if ((order.status === "failed" || order.status === "retrying") && order.reason) {
      row.append(el("span", "reason", order.reason));
    }
    if (!FINAL.has(order.status)) {
      const asking = ctx.pendingVoid === order.order_id;
      const label = asking ? "Confirm void?" : "Void";
      row.append(button(label, asking ? "void confirm" : "void", () => ctx.onVoid(order)));
    }
    if (addonShown) row.classList.add("first-addon");
    return row;
  }

  function ticketCard(ticket, orders, ctx) {
    const card = el("article", `ticket status-${ticket.status}`);
    card.dataset.ticket = String(ticket.number);
    card.setAttribute("aria-label", `Ticket ${ticket.number}, table ${ticket.table}`);
    card.dataset.since = String(ticket.created_at);
    const stations = orders.filter((o) => !FINAL.has(o.status)).map((o) => o.station);
    const limits = limitsFor(ctx.limits, stations.length ? stations : orders.map((o) => o.station));
    card.dataset.warn = String(limits.warn);
    card.dataset.late = String(limits.late);
    const done = orders.length > 0 && orders.every((o) => FINAL.has(o.status));
    card.dataset.done = done || ticket.status !== "open" ? "yes" : "no";
    if (ctx.selected === String(ticket.number)) card.classList.add("selected");
    if (orders.some((o) => o.rush && !FINAL.has(o.status))) card.classList.add("has-rush");

    const head = el("header", "ticket-head");
    head.append(el("span", "number", `#${ticket.number}`));
    head.append(el("span", "table", `Table ${ticket.table}`));
    const timer = el("span", "timer", "");
    timer.setAttribute("role", "timer");
    head.append(timer);
    head.append(el("span", "age-label", ""));
    card.append(head);

    const finished = orders.filter((o) => FINAL.has(o.status)).length;
    let summary = `${finished} of ${orders.length} done`;
    if (ticket.status === "ready") summary = "READY ✓ all done";
    if (ctx.view === "station" && done) summary = "station done ✓";
    card.append(el("p", "ticket-summary", summary));

    const list = el("ul", "dishes");
    let addonSeen = false;
    for (const order of orders) {
      const firstAddon = order.addon && !addonSeen;
      if (firstAddon) {
        addonSeen = true;
        list.append(el("li", "addon-separator", "— ADD-ON —"));
      }
      list.append(dishRow(order, ctx, firstAddon));
    }
    card.append(list);

    if (ctx.view === "pass") {
      const actions = el("div", "ticket-actions");
      const courses = new Set();
      for (const o of orders) {
        if (o.status === "held" && !o.fire_at && o.course !== undefined) courses.add(o.course);
      }
      for (const course of [...courses].sort((a, b) => a - b)) {
        actions.append(button(`Fire course ${course}`, "fire", () => ctx.onFire(ticket.table, course)));
      }
      actions.append(button(`Serve #${ticket.number}`, "serve", () => ctx.onServe(ticket.number)));
      card.append(actions);
      card.addEventListener("click", () => ctx.onSelect(ticket.number));
    }
    age(card, ctx.now);
    return card;
  }

  function allDay(node, orders) {
    const counts = new Map();
    for (const o of orders) {
      if (FINAL.has(o.status)) continue;
      const name = o.dish || "?";
      const entry = counts.get(name) || { open: 0, held: 0 };
      entry.open += 1;
      if (o.status === "held") entry.held += 1;
      counts.set(name, entry);
    }
    const rows = [...counts.entries()].sort((a, b) => b[1].open - a[1].open || a[0].localeCompare(b[0]));
    node.replaceChildren();
    if (!rows.length) node.append(el("li", "empty", "nothing open"));
    for (const [name, entry] of rows) {
      const row = el("li", "allday-row");
      row.append(el("span", "allday-count", `${entry.open} ×`));
      row.append(el("span", "allday-dish", name));
      if (entry.held) row.append(el("span", "allday-held", `(${entry.held} held)`));
      node.append(row);
    }
  }

  function servedList(node, tickets, ctx) {
    node.replaceChildren();
    if (!tickets.length) node.append(el("li", "empty", "none in the last minutes"));
    for (const t of tickets) {
      const row = el("li", "served-row");
      row.dataset.ticket = String(t.number);
      row.setAttribute("aria-label", `Served ticket ${t.number}, table ${t.table}`);
      row.append(el("span", "number", `#${t.number}`));
      row.append(el("span", "table", `Table ${t.table}`));
      row.append(el("span", "served-at", `served ${clock(t.served_at)}`));
      row.append(button(`Recall #${t.number}`, "recall", () => ctx.onRecall(t.number)));
      row.addEventListener("click", () => ctx.onSelect(t.number));
      node.append(row);
    }
  }

  // A speed figure: 4.2 s, 45 s, 3:05.
  function seconds(value) {
    if (value === null || value === undefined) return "—";
    if (value < 10) return `${value.toFixed(1)} s`;
    return value < 60 ? `${Math.round(value)} s` : elapsed(value);
  }

  function speedStrip(node, figures, only) {
    node.replaceChildren();
    for (const [name, f] of Object.entries(figures || {})) {
      if (only && name !== only) continue;
      const cook = seconds(f.cook && f.cook.mean);
      const ticket = seconds(f.ticket && f.ticket.mean);
      const item = el("span", "speed-item");
      item.append(el("strong", "", name));
      item.append(el("span", "", ` cook ${cook} · ticket ${ticket}`));
      node.append(item);
    }
    if (node.childElementCount) node.prepend(el("span", "speed-title", "Last hour (avg):"));
  }

  // The connection indicator: words, not only a colour.
  function setLive(state) {
    const node = document.getElementById("live");
    node.textContent = state === "live" ? "● live" : "reconnecting…";
    node.className = "live " + state;
    document.body.classList.toggle("offline", state !== "live");
  }

  function ticketList(node, cards, emptyText) {
    node.replaceChildren(...cards);
    if (!cards.length) node.append(el("p", "empty", emptyText));
  }

  return { el, age, setLive, ticketCard, allDay, servedList, speedStrip, ticketList, FINAL };
})();
